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
{{/*
An image reference: (dict "context" $ "image" .Values.gateway.image). The registry is
global.imageRegistry when set (a parent chart's or a mirror's, Bitnami-style: it wins over
every other), else the image's own, else image.registry; none means the runtime's default.
*/}}
{{- define "matchcast.image" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $registry := default (default .context.Values.image.registry .image.registry) $global.imageRegistry -}}
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

{{/* imagePullSecrets of every pod: global.imagePullSecrets then image.pullSecrets (names or {name: …}); nothing when both are empty. */}}
{{- define "matchcast.imagePullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- $names := list -}}
{{- range (concat ($global.imagePullSecrets | default list) .Values.image.pullSecrets) -}}
{{- $name := . -}}
{{- if kindIs "map" . -}}{{- $name = get . "name" -}}{{- end -}}
{{- if and $name (not (has $name $names)) -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "matchcast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "matchcast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret that holds the connection URLs (one per service and role) and AUTH_JWT_SECRET. */}}
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

{{/*
One password for the in-chart PostgreSQL or Redis: the value given, else the one already in
the live Secret (so an upgrade keeps it), else a new random one. Generated once per render,
so every object that carries it (the backing Secret, the connection URLs) agrees.
Call with (dict "context" $ "given" <value> "secret" <Secret name> "key" <key in it>).
*/}}
{{- define "matchcast.password" -}}
{{- if .given -}}
{{- .given -}}
{{- else -}}
{{- $memo := .context.Values.__generatedPasswords | default dict -}}
{{- $id := printf "%s/%s" .secret .key -}}
{{- if not (hasKey $memo $id) -}}
{{- $value := randAlphaNum 32 -}}
{{- $live := lookup "v1" "Secret" .context.Release.Namespace .secret -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- $value = index $live.data .key | b64dec -}}
{{- end -}}
{{- $_ := set $memo $id $value -}}
{{- $_ := set .context.Values "__generatedPasswords" $memo -}}
{{- end -}}
{{- get $memo $id -}}
{{- end -}}
{{- end -}}

{{/* The bootstrap superuser's password of the in-chart PostgreSQL (runs migrations and db-users). */}}
{{- define "matchcast.postgresqlAdminPassword" -}}
{{- include "matchcast.password" (dict "context" . "given" .Values.postgresql.auth.password "secret" (include "matchcast.postgresqlHost" .) "key" "POSTGRES_PASSWORD") -}}
{{- end -}}

{{/*
Per-service roles: the login user in PostgreSQL (member of the NOLOGIN group role of
migration 003), the ACL user in Redis, and the keys of their passwords and URLs.
*/}}
{{- define "matchcast.roles" -}}
gateway: {dbUser: matchcast_gateway_login, dbPasswordKey: GATEWAY_PASSWORD, redisUser: matchcast-gateway, redisPasswordKey: REDIS_GATEWAY_PASSWORD}
notifyListener: {dbUser: matchcast_listener_login, dbPasswordKey: LISTENER_PASSWORD, redisUser: matchcast-listener, redisPasswordKey: REDIS_LISTENER_PASSWORD}
crawler: {dbUser: matchcast_crawler_login, dbPasswordKey: CRAWLER_PASSWORD}
api: {dbUser: matchcast_api_login, dbPasswordKey: API_PASSWORD, redisUser: matchcast-api, redisPasswordKey: REDIS_API_PASSWORD}
notifier: {dbUser: matchcast_notifier_login, dbPasswordKey: NOTIFIER_PASSWORD}
chaos: {redisUser: matchcast-chaos, redisPasswordKey: REDIS_CHAOS_PASSWORD}
{{- end -}}

{{/* Password of one service's login user in the in-chart PostgreSQL: (dict "context" $ "role" "gateway"). */}}
{{- define "matchcast.postgresqlRolePassword" -}}
{{- $role := get (include "matchcast.roles" .context | fromYaml) .role -}}
{{- include "matchcast.password" (dict "context" .context "given" (get .context.Values.postgresql.auth (printf "%sPassword" .role)) "secret" (include "matchcast.postgresqlHost" .context) "key" $role.dbPasswordKey) -}}
{{- end -}}

{{/* Password of one service's ACL user in the in-chart Redis: (dict "context" $ "role" "gateway"). */}}
{{- define "matchcast.redisRolePassword" -}}
{{- $role := get (include "matchcast.roles" .context | fromYaml) .role -}}
{{- include "matchcast.password" (dict "context" .context "given" (get .context.Values.redis.auth (printf "%sPassword" .role)) "secret" (include "matchcast.redisHost" .context) "key" $role.redisPasswordKey) -}}
{{- end -}}

{{/*
DATABASE_URL of one role, as the chart builds it: "migrate" (the schema owner), "gateway",
"notifyListener", "crawler", "api" or "notifier". In-chart PostgreSQL: the bootstrap user for migrate, each
service's own login user otherwise. External: externalDatabase.<role>Url, else
externalDatabase.url (one user for everything: no least privilege).
*/}}
{{- define "matchcast.databaseUrl" -}}
{{- $ctx := .context -}}
{{- if $ctx.Values.postgresql.enabled -}}
{{- $auth := $ctx.Values.postgresql.auth -}}
{{- $user := $auth.username -}}
{{- $password := include "matchcast.postgresqlAdminPassword" $ctx -}}
{{- if ne .role "migrate" -}}
{{- $user = (get (include "matchcast.roles" $ctx | fromYaml) .role).dbUser -}}
{{- $password = include "matchcast.postgresqlRolePassword" (dict "context" $ctx "role" .role) -}}
{{- end -}}
{{- printf "postgres://%s:%s@%s:%d/%s" ($user | urlquery) ($password | urlquery) (include "matchcast.postgresqlHost" $ctx) (int $ctx.Values.postgresql.service.port) $auth.database -}}
{{- else -}}
{{- $url := required "externalDatabase.url (or secrets.existingSecret) is required when postgresql.enabled=false" $ctx.Values.externalDatabase.url -}}
{{- if ne .role "migrate" -}}{{- $url = default $url (get $ctx.Values.externalDatabase (printf "%sUrl" .role)) -}}{{- end -}}
{{- $url -}}
{{- end -}}
{{- end -}}

{{/*
REDIS_URL of one role ("gateway", "notifyListener", "api", "chaos"): in-chart Redis, the role's own
ACL user; external, externalRedis.<role>Url, else externalRedis.url.
*/}}
{{- define "matchcast.redisUrl" -}}
{{- $ctx := .context -}}
{{- if $ctx.Values.redis.enabled -}}
{{- $user := (get (include "matchcast.roles" $ctx | fromYaml) .role).redisUser -}}
{{- printf "redis://%s:%s@%s:%d" $user (include "matchcast.redisRolePassword" (dict "context" $ctx "role" .role) | urlquery) (include "matchcast.redisHost" $ctx) (int $ctx.Values.redis.service.port) -}}
{{- else if $ctx.Values.externalRedis.enabled -}}
{{- $url := required "externalRedis.url (or secrets.existingSecret) is required when externalRedis.enabled=true" (default $ctx.Values.externalRedis.url (get $ctx.Values.externalRedis (printf "%sUrl" .role))) -}}
{{- $url -}}
{{- end -}}
{{- end -}}

{{/* Key in the connection Secret of a role's DATABASE_URL ("migrate" is secrets.databaseUrlKey). */}}
{{- define "matchcast.databaseUrlKey" -}}
{{- if eq .role "migrate" -}}{{- .context.Values.secrets.databaseUrlKey -}}{{- else -}}{{- get .context.Values.secrets (printf "%sDatabaseUrlKey" .role) -}}{{- end -}}
{{- end -}}

{{- define "matchcast.redisUrlKey" -}}
{{- get .context.Values.secrets (printf "%sRedisUrlKey" .role) -}}
{{- end -}}

{{/*
Connection env vars of one service from the Secret: DATABASE_URL always, REDIS_URL when
Redis is configured and the service uses it. Each service gets its own role's URLs:
(dict "context" $ "role" "gateway" "redis" true).
*/}}
{{- define "matchcast.connectionEnv" -}}
{{- $secret := include "matchcast.secretName" .context -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ include "matchcast.databaseUrlKey" . }}
{{- if and .redis (include "matchcast.redisConfigured" .context) }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ include "matchcast.redisUrlKey" . }}
{{- end }}
{{- end -}}

{{/*
With secrets.existingSecret the chart cannot put the in-chart databases' generated passwords
into that Secret's URLs: the passwords must then be given, so the operator can write them
into the URLs too.
*/}}
{{- define "matchcast.validateCredentials" -}}
{{- if .Values.secrets.existingSecret -}}
{{- if .Values.postgresql.enabled -}}
{{- range $key := list "password" "gatewayPassword" "notifyListenerPassword" "crawlerPassword" "apiPassword" "notifierPassword" -}}
{{- if not (get $.Values.postgresql.auth $key) -}}
{{- fail (printf "secrets.existingSecret with the in-chart PostgreSQL: set postgresql.auth.%s (the URLs in your Secret must carry the same passwords)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.redis.enabled -}}
{{- range $key := list "gatewayPassword" "notifyListenerPassword" -}}
{{- if not (get $.Values.redis.auth $key) -}}
{{- fail (printf "secrets.existingSecret with the in-chart Redis: set redis.auth.%s (the URLs in your Secret must carry the same passwords)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
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

{{/*
A client-facing component's config data: TRUSTED_PROXY_HOPS left empty is 1 with the chart's
Ingress (it appends X-Forwarded-For; at 0 every client was the ingress controller's one address to
the per-address limits) and 0 without it. Call with (dict "config" … "context" .).
*/}}
{{- define "matchcast.edgeConfigData" -}}
{{- $config := deepCopy .config -}}
{{- if eq (toString (index $config "TRUSTED_PROXY_HOPS")) "" -}}
{{- $_ := set $config "TRUSTED_PROXY_HOPS" (ternary "1" "0" (eq (toString .context.Values.ingress.enabled) "true")) -}}
{{- end -}}
{{- include "matchcast.configData" $config -}}
{{- end -}}

{{/* Pod-level checksum annotations: a changed ConfigMap or Secret rolls the pods. */}}
{{- define "matchcast.checksumAnnotations" -}}
checksum/config: {{ include (print .context.Template.BasePath "/" .component "-configmap.yaml") .context | sha256sum }}
{{- if not .context.Values.secrets.existingSecret }}
checksum/secret: {{ include (print .context.Template.BasePath "/secret.yaml") .context | sha256sum }}
{{- end }}
{{- end -}}

{{/*
The migration command. It retries only while the database cannot be reached (bounded by
MIGRATE_CONNECT_RETRIES) and exits 1 at once on an SQL error, an edited migration or a lock
timeout; it takes an advisory lock, so pods that run it at once apply each migration exactly once.
*/}}
{{- define "matchcast.migrateCommand" -}}
- node
- node_modules/@matchcast/db/dist/cli.js
{{- end -}}

{{/*
The migrations' environment: their own DATABASE_URL (the schema owner, never a service's login)
from migrations.existingSecret, else from `.secret` (the connection Secret, or the Job's
hook-scoped one) under secrets.databaseUrlKey; then migrations.config.
(dict "context" $ "secret" <name>)
*/}}
{{- define "matchcast.migrateEnv" -}}
{{- $migrations := .context.Values.migrations -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if $migrations.existingSecret }}
      name: {{ $migrations.existingSecret }}
      key: {{ $migrations.existingSecretKey }}
      {{- else }}
      name: {{ .secret }}
      key: {{ .context.Values.secrets.databaseUrlKey }}
      {{- end }}
{{- range $name, $value := $migrations.config }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* "job" or "initContainer", from migrations.strategy (auto: a Job hook unless PostgreSQL is in-chart). */}}
{{- define "matchcast.migrationStrategy" -}}
{{- if eq .Values.migrations.strategy "auto" -}}
{{- if .Values.postgresql.enabled -}}initContainer{{- else -}}job{{- end -}}
{{- else -}}
{{- .Values.migrations.strategy -}}
{{- end -}}
{{- end -}}

{{/*
Creates (or updates) the services' login users in the in-chart PostgreSQL and makes each a
member of its group role (files/db-users.sql, run by psql from the PostgreSQL image as the
bootstrap superuser, retried until the database answers). Passwords reach psql through its
environment (\getenv), never its command line. External databases: see docs/deploy.md.
*/}}
{{- define "matchcast.dbUsersContainer" -}}
- name: db-users
  image: {{ include "matchcast.image" (dict "context" . "image" .Values.postgresql.image) }}
  imagePullPolicy: {{ include "matchcast.imagePullPolicy" (dict "context" . "image" .Values.postgresql.image) }}
  command:
    - sh
    - -c
    - |
      until pg_isready -q; do echo "database not ready; retrying in 2s"; sleep 2; done
      { printf '\\getenv gateway_password GATEWAY_PASSWORD\n\\getenv listener_password LISTENER_PASSWORD\n\\getenv crawler_password CRAWLER_PASSWORD\n'
        printf '\\getenv api_password API_PASSWORD\n\\getenv notifier_password NOTIFIER_PASSWORD\n'
        printf '%s\n' "$DB_USERS_SQL"; } | psql -X -v ON_ERROR_STOP=1 -f -
  env:
    - name: PGHOST
      value: {{ include "matchcast.postgresqlHost" . }}
    - name: PGPORT
      value: {{ .Values.postgresql.service.port | quote }}
    - name: PGDATABASE
      value: {{ .Values.postgresql.auth.database | quote }}
    - name: PGUSER
      value: {{ .Values.postgresql.auth.username | quote }}
    - name: PGPASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "matchcast.postgresqlHost" . }}
          key: POSTGRES_PASSWORD
    {{- range $key := include "matchcast.dbUserPasswordKeys" $ | fromJsonArray }}
    - name: {{ $key }}
      valueFrom:
        secretKeyRef:
          name: {{ include "matchcast.postgresqlHost" $ }}
          key: {{ $key }}
    {{- end }}
    - name: DB_USERS_SQL
      value: {{ .Files.Get "files/db-users.sql" | quote }}
  {{- with .Values.migrations.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.containerSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The keys of the login users' passwords in the in-chart PostgreSQL's Secret, as a JSON list. */}}
{{- define "matchcast.dbUserPasswordKeys" -}}
{{- $keys := list -}}
{{- range $role := list "gateway" "notifyListener" "crawler" "api" "notifier" -}}
{{- $keys = append $keys (get (include "matchcast.roles" $ | fromYaml) $role).dbPasswordKey -}}
{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{/* Init containers that apply migrations (every pod that uses the database, strategy initContainer). */}}
{{- define "matchcast.migrateInitContainer" -}}
{{- if and .Values.migrations.enabled (eq (include "matchcast.migrationStrategy" .) "initContainer") }}
{{- if .Values.postgresql.enabled }}
{{ include "matchcast.dbUsersContainer" . }}
{{- end }}
- name: migrate
  image: {{ include "matchcast.image" (dict "context" . "image" .Values.gateway.image) }}
  imagePullPolicy: {{ include "matchcast.imagePullPolicy" (dict "context" . "image" .Values.gateway.image) }}
  command:
    {{- include "matchcast.migrateCommand" . | nindent 4 }}
  env:
    {{- include "matchcast.migrateEnv" (dict "context" . "secret" (include "matchcast.secretName" .)) | nindent 4 }}
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
Fails the render when two ports of one pod (one network namespace) are the same number: the
second process to bind it dies with EADDRINUSE and the pod crash-loops. The gateway pod holds the
client and ops ports, and the listener's when it runs there (not standalone, not disabled, not
without Redis); the API pod its two.
*/}}
{{- define "matchcast.validatePorts" -}}
{{- $ports := list (list "gateway.containerPorts.http" .Values.gateway.containerPorts.http) (list "gateway.containerPorts.ops" .Values.gateway.containerPorts.ops) -}}
{{- if include "matchcast.listenerInGatewayPod" . -}}
{{- $ports = append $ports (list "notifyListener.containerPorts.http" .Values.notifyListener.containerPorts.http) -}}
{{- end -}}
{{- include "matchcast.distinctPorts" $ports -}}
{{- if .Values.api.enabled -}}
{{- include "matchcast.distinctPorts" (list (list "api.containerPorts.http" .Values.api.containerPorts.http) (list "api.containerPorts.ops" .Values.api.containerPorts.ops)) -}}
{{- end -}}
{{- end -}}

{{- define "matchcast.distinctPorts" -}}
{{- range $i, $port := . -}}
{{- range $j, $earlier := $ -}}
{{- if and (lt $j $i) (eq (int (index $port 1)) (int (index $earlier 1))) -}}
{{- fail (printf "%s (%d) must differ from %s: one pod, one network" (index $port 0) (int (index $port 1)) (index $earlier 0)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
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
{{- /* The gateways take the listener for dead after HEARTBEAT_TIMEOUT_MS without a heartbeat: one
interval of it or more, and every gateway falls back to Postgres LISTEN between heartbeats. */ -}}
{{- $heartbeatMs := int (default "250" .Values.notifyListener.config.LISTENER_HEARTBEAT_INTERVAL_MS) -}}
{{- $heartbeatTimeoutMs := int (default "1000" .Values.gateway.config.HEARTBEAT_TIMEOUT_MS) -}}
{{- if gt (mul $heartbeatMs 2) $heartbeatTimeoutMs -}}
{{- fail (printf "notifyListener.config.LISTENER_HEARTBEAT_INTERVAL_MS (%d) must be at most half of gateway.config.HEARTBEAT_TIMEOUT_MS (%d), or gateways fall back to Postgres LISTEN between heartbeats" $heartbeatMs $heartbeatTimeoutMs) -}}
{{- end -}}
{{- end -}}

{{/*
Fails the render when a pod's grace period cannot hold its shutdown: the preStop sleep (if any),
then SIGTERM and at most SHUTDOWN_TIMEOUT_MS. (dict "name" "api" "values" .Values.api "defaultMs" "10000")
*/}}
{{- define "matchcast.validateGracePeriod" -}}
{{- $shutdownMs := int (default .defaultMs .values.config.SHUTDOWN_TIMEOUT_MS) -}}
{{- $preStop := int (default 0 .values.preStopSleepSeconds) -}}
{{- $grace := int .values.terminationGracePeriodSeconds -}}
{{- if lt (mul $grace 1000) (add (mul $preStop 1000) $shutdownMs) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds (%d) + SHUTDOWN_TIMEOUT_MS/1000 (%d)" .name $grace $preStop (div $shutdownMs 1000)) -}}
{{- end -}}
{{- end -}}

{{/*
The development sign-in mints tokens for anyone who asks: never in a cluster. It is no value of
this chart, and an extraEnv entry that names it fails the render.
*/}}
{{- define "matchcast.refuseDevSignIn" -}}
{{- range .Values.api.extraEnv -}}
{{- if eq (toString .name) "DEV_SIGN_IN" -}}
{{- fail "api.extraEnv may not set DEV_SIGN_IN: the development sign-in is never enabled by this chart (docker compose or make demo only)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "matchcast.chaosServiceAccountName" -}}
{{- default (include "matchcast.componentName" (dict "context" . "component" "chaos")) .Values.chaos.serviceAccountName -}}
{{- end -}}

{{/*
Egress when allowExternalEgress=false: DNS, the in-chart PostgreSQL, the in-chart Redis for
the pods that use it, and extraEgress. (dict "context" $ "redis" true|false)
*/}}
{{- define "matchcast.networkPolicyEgress" -}}
{{- $redis := .redis -}}
{{- with .context -}}
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
{{- if and $redis .Values.redis.enabled }}
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
{{- end }}
{{- end -}}

{{/*
BUS_SIGNING_KEYS, for the notify-listener (signs what it publishes on Redis) and the gateways
(drop what is not signed with one of the keys). Optional in the Secret: a secrets.existingSecret
without the key leaves the bus unsigned, as before.
*/}}
{{- define "matchcast.busSigningEnv" -}}
- name: BUS_SIGNING_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "matchcast.secretName" . }}
      key: {{ .Values.secrets.busSigningKeysKey }}
      optional: true
{{- end }}
