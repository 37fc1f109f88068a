{{/*
Where the notify-listener runs (notifyListener.placement), resolved: "nativeSidecar" (an init
container with restartPolicy Always; needs Kubernetes 1.29+, older clusters get "sidecar"),
"sidecar" (a second container of the gateway pod), "standalone" (its own Deployment), or ""
when no listener runs (no Redis configured, or notifyListener.enabled=false).
*/}}
{{- define "matchcast.listenerPlacement" -}}
{{- if and .Values.notifyListener.enabled (include "matchcast.redisConfigured" .) -}}
{{- $placement := .Values.notifyListener.placement -}}
{{- if and (eq $placement "nativeSidecar") (not (semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version)) -}}
sidecar
{{- else -}}
{{- $placement -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" when the listener runs inside the gateway pods (either sidecar placement). */}}
{{- define "matchcast.listenerInGatewayPod" -}}
{{- if has (include "matchcast.listenerPlacement" .) (list "nativeSidecar" "sidecar") }}true{{ end -}}
{{- end -}}

{{/*
The notify-listener container, for every placement. In the gateway pod it runs under
dist/supervise.js, which restarts a crashed, OOM-killed or hung listener process inside the
container and has no liveness probe of its own: a container restart, native sidecar or not,
makes Kubernetes count the pod as not ready, and a listener's trouble must never take a
gateway out of its Service. Standalone, it runs plainly with liveness and readiness probes.
(dict "context" $ "placement" "nativeSidecar|sidecar|standalone")
*/}}
{{- define "matchcast.notifyListenerContainer" -}}
{{- $standalone := eq .placement "standalone" -}}
{{- with .context -}}
- name: notify-listener
  image: {{ include "matchcast.image" (dict "context" . "image" .Values.notifyListener.image) }}
  imagePullPolicy: {{ include "matchcast.imagePullPolicy" (dict "context" . "image" .Values.notifyListener.image) }}
  {{- if not $standalone }}
  command: ["node", "dist/supervise.js"]
  {{- end }}
  {{- if eq $.placement "nativeSidecar" }}
  restartPolicy: Always
  {{- end }}
  ports:
    - name: listener
      containerPort: {{ .Values.notifyListener.containerPorts.http }}
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "matchcast.componentName" (dict "context" . "component" "notify-listener") }}
  env:
    - name: LISTENER_PORT
      value: {{ .Values.notifyListener.containerPorts.http | quote }}
    - name: LISTENER_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- include "matchcast.connectionEnv" (dict "context" . "role" "notifyListener" "redis" true) | nindent 4 }}
    {{- include "matchcast.busSigningEnv" . | nindent 4 }}
    {{- with .Values.notifyListener.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if $standalone }}
  {{- with .Values.notifyListener.livenessProbe }}
  livenessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.notifyListener.standalone.readinessProbe }}
  readinessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- with .Values.notifyListener.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.containerSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- with .Values.notifyListener.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
