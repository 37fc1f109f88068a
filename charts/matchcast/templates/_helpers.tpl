{{/* vim: set filetype=mustache: */}}

{{/* Chart name, truncated to 63 characters (DNS label limit). */}}
{{- define "matchcast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name. When the release name already contains the chart name it is used
as is, so `helm install matchcast charts/matchcast` gives "matchcast-gateway", not
"matchcast-matchcast-gateway".
*/}}
{{- define "matchcast.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's resources: <fullname>-<component>. */}}
{{- define "matchcast.componentName" -}}
{{- printf "%s-%s" (include "matchcast.fullname" .context) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "matchcast.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels (Kubernetes recommended labels) plus commonLabels. */}}
{{- define "matchcast.labels" -}}
helm.sh/chart: {{ include "matchcast.chart" . }}
{{ include "matchcast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: matchcast
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "matchcast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "matchcast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: call with (dict "context" $ "component" "gateway"). */}}
{{- define "matchcast.componentLabels" -}}
{{ include "matchcast.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "matchcast.componentSelectorLabels" -}}
{{ include "matchcast.selectorLabels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations, at metadata's indentation (nothing when none). */}}
{{- define "matchcast.annotations" -}}
{{- with .Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* A container image reference: (dict "context" $ "image" .Values.gateway.image). */}}
{{- define "matchcast.image" -}}
{{- $registry := default .context.Values.image.registry .image.registry -}}
{{- $tag := default (default .context.Chart.AppVersion .context.Values.image.tag) .image.tag -}}
{{- $repository := .image.repository -}}
{{- if $registry -}}{{- $repository = printf "%s/%s" $registry $repository -}}{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "matchcast.imagePullPolicy" -}}
{{- default .context.Values.image.pullPolicy .image.pullPolicy -}}
{{- end -}}

{{- define "matchcast.imagePullSecrets" -}}
imagePullSecrets:
{{- range .Values.image.pullSecrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}

{{- define "matchcast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "matchcast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret that holds DATABASE_URL, REDIS_URL and AUTH_JWT_SECRET. */}}
{{- define "matchcast.secretName" -}}
{{- default (include "matchcast.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether any Redis is configured (in-chart or external). Empty string means no. */}}
{{- define "matchcast.redisConfigured" -}}
{{- if or .Values.redis.enabled .Values.externalRedis.enabled -}}true{{- end -}}
{{- end -}}

{{- define "matchcast.postgresqlHost" -}}
{{- include "matchcast.componentName" (dict "context" . "component" "postgresql") -}}
{{- end -}}

{{- define "matchcast.redisHost" -}}
{{- include "matchcast.componentName" (dict "context" . "component" "redis") -}}
{{- end -}}

{{/* DATABASE_URL as the chart builds it (in-chart PostgreSQL or externalDatabase.url). */}}
{{- define "matchcast.databaseUrl" -}}
{{- if .Values.postgresql.enabled -}}
{{- $auth := .Values.postgresql.auth -}}
{{- printf "postgres://%s:%s@%s:%d/%s" ($auth.username | urlquery) ($auth.password | urlquery) (include "matchcast.postgresqlHost" .) (int .Values.postgresql.service.port) $auth.database -}}
{{- else -}}
{{- required "externalDatabase.url (or secrets.existingSecret) is required when postgresql.enabled=false" .Values.externalDatabase.url -}}
{{- end -}}
{{- end -}}

{{/* REDIS_URL as the chart builds it (in-chart Redis or externalRedis.url). */}}
{{- define "matchcast.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:%d" (include "matchcast.redisHost" .) (int .Values.redis.service.port) -}}
{{- else if .Values.externalRedis.enabled -}}
{{- required "externalRedis.url (or secrets.existingSecret) is required when externalRedis.enabled=true" .Values.externalRedis.url -}}
{{- end -}}
{{- end -}}

{{/* Connection env vars from the Secret: DATABASE_URL always, REDIS_URL when Redis is configured. */}}
{{- define "matchcast.connectionEnv" -}}
{{- $secret := include "matchcast.secretName" .context -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .context.Values.secrets.databaseUrlKey }}
{{- if and .redis (include "matchcast.redisConfigured" .context) }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .context.Values.secrets.redisUrlKey }}
{{- end }}
{{- end -}}

{{/*
ConfigMap data from a component's `config` map: every key is an environment variable name,
every value a string; empty values are left out so the service's own default applies.
*/}}
{{- define "matchcast.configData" -}}
{{- range $name, $value := . }}
{{- if ne (toString $value) "" }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level checksum annotations: a changed ConfigMap or Secret rolls the pods. */}}
{{- define "matchcast.checksumAnnotations" -}}
checksum/config: {{ include (print .context.Template.BasePath "/" .component "-configmap.yaml") .context | sha256sum }}
{{- if not .context.Values.secrets.existingSecret }}
checksum/secret: {{ include (print .context.Template.BasePath "/secret.yaml") .context | sha256sum }}
{{- end }}
{{- end -}}

{{/*
The migration command, retried until the database answers (used as an init container when
the in-chart PostgreSQL may still be starting). The CLI takes an advisory lock, so pods that
run it at once apply each migration exactly once.
*/}}
{{- define "matchcast.migrateCommand" -}}
- node
- node_modules/@matchcast/db/dist/cli.js
{{- end -}}

{{- define "matchcast.migrateUntilReadyCommand" -}}
- sh
- -c
- until node node_modules/@matchcast/db/dist/cli.js; do echo "database not ready; retrying in 2s"; sleep 2; done
{{- end -}}

{{/* "job" or "initContainer", from migrations.strategy (auto: a Job hook unless PostgreSQL is in-chart). */}}
{{- define "matchcast.migrationStrategy" -}}
{{- if eq .Values.migrations.strategy "auto" -}}
{{- if .Values.postgresql.enabled -}}initContainer{{- else -}}job{{- end -}}
{{- else -}}
{{- .Values.migrations.strategy -}}
{{- end -}}
{{- end -}}

{{/* Init container that applies migrations (gateway and crawler pods, strategy initContainer). */}}
{{- define "matchcast.migrateInitContainer" -}}
{{- if and .Values.migrations.enabled (eq (include "matchcast.migrationStrategy" .) "initContainer") }}
- name: migrate
  image: {{ include "matchcast.image" (dict "context" . "image" .Values.gateway.image) }}
  imagePullPolicy: {{ include "matchcast.imagePullPolicy" (dict "context" . "image" .Values.gateway.image) }}
  command:
    {{- include "matchcast.migrateUntilReadyCommand" . | nindent 4 }}
  env:
    {{- include "matchcast.connectionEnv" (dict "context" . "redis" false) | nindent 4 }}
  {{- with .Values.migrations.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.containerSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
Fails the render when the gateway's grace period cannot hold the drain: the preStop sleep runs
first, then SIGTERM starts the gateway's own shutdown, which ends by SHUTDOWN_TIMEOUT_MS at the
latest (it includes DRAIN_DELAY_MS and the batched close).
*/}}
{{- define "matchcast.validateDrain" -}}
{{- $shutdownMs := int (default "25000" .Values.gateway.config.SHUTDOWN_TIMEOUT_MS) -}}
{{- $drainMs := int (default "5000" .Values.gateway.config.DRAIN_DELAY_MS) -}}
{{- $preStop := int .Values.gateway.preStopSleepSeconds -}}
{{- $grace := int .Values.gateway.terminationGracePeriodSeconds -}}
{{- if ge $drainMs $shutdownMs -}}
{{- fail (printf "gateway.config.DRAIN_DELAY_MS (%d) must be smaller than SHUTDOWN_TIMEOUT_MS (%d)" $drainMs $shutdownMs) -}}
{{- end -}}
{{- if lt (mul $grace 1000) (add (mul $preStop 1000) $shutdownMs) -}}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds (%d) + SHUTDOWN_TIMEOUT_MS/1000 (%d)" $grace $preStop (div $shutdownMs 1000)) -}}
{{- end -}}
{{- end -}}

{{- define "matchcast.chaosServiceAccountName" -}}
{{- default (include "matchcast.componentName" (dict "context" . "component" "chaos")) .Values.chaos.serviceAccountName -}}
{{- end -}}

{{/* Egress when allowExternalEgress=false: DNS, the in-chart databases, and extraEgress. */}}
{{- define "matchcast.networkPolicyEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "matchcast.componentSelectorLabels" (dict "context" . "component" "postgresql") | nindent 10 }}
  ports:
    - port: 5432
      protocol: TCP
{{- end }}
{{- if .Values.redis.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "matchcast.componentSelectorLabels" (dict "context" . "component" "redis") | nindent 10 }}
  ports:
    - port: 6379
      protocol: TCP
{{- end }}
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}
