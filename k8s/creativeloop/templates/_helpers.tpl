{{/*
The services this chart deploys, in start order. Each has a block under .Values.services.
*/}}
{{- define "creativeloop.serviceNames" -}}
understanding copygen imagegen ranking bandit videogen attribution
{{- end }}

{{- define "creativeloop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "creativeloop.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "creativeloop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of one service's objects. Call with (dict "root" $ "name" "ranking"). */}}
{{- define "creativeloop.componentName" -}}
{{- $full := include "creativeloop.fullname" .root | trunc (int (sub 62 (len .name))) | trimSuffix "-" }}
{{- printf "%s-%s" $full .name }}
{{- end }}

{{- define "creativeloop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "creativeloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "creativeloop.labels" -}}
helm.sh/chart: {{ include "creativeloop.chart" . }}
{{ include "creativeloop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: creativeloop
{{- end }}

{{- define "creativeloop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "creativeloop.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image of one service: its override, else the shared image. Call with (dict "root" $ "svc" $svc). */}}
{{- define "creativeloop.image" -}}
{{- $image := .root.Values.image }}
{{- $own := .svc.image | default dict }}
{{- $repository := $own.repository | default $image.repository }}
{{- $tag := $own.tag | default $image.tag | default .root.Chart.AppVersion }}
{{- printf "%s:%s" $repository (toString $tag) }}
{{- end }}

{{/* Env prefix of one service's settings class: CREATIVELOOP_<SERVICE>_. */}}
{{- define "creativeloop.envPrefix" -}}
{{- printf "CREATIVELOOP_%s_" (upper .) }}
{{- end }}

{{/* Environment shared by every process (CommonSettings, prefix CREATIVELOOP_), set by the chart. */}}
{{- define "creativeloop.commonEnv" -}}
- name: CREATIVELOOP_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: CREATIVELOOP_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: CREATIVELOOP_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: CREATIVELOOP_ASSET_DIR
  value: {{ .Values.assets.mountPath | quote }}
- name: CREATIVELOOP_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: CREATIVELOOP_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
{{- include "creativeloop.kafkaSecurityEnv" . }}
{{- end }}

{{/*
Kafka security (KafkaSecuritySettings, prefix CREATIVELOOP_KAFKA_) for every Kafka client: the
password from its Secret, the CA (and client certificate) from the `kafka-tls` volume.
*/}}
{{- define "creativeloop.kafkaSecurityEnv" -}}
{{- $kafka := .Values.kafka }}
{{- $protocol := $kafka.securityProtocol | default "PLAINTEXT" }}
{{- if ne $protocol "PLAINTEXT" }}
- name: CREATIVELOOP_KAFKA_SECURITY_PROTOCOL
  value: {{ $protocol | quote }}
{{- end }}
{{- if hasPrefix "SASL_" $protocol }}
{{- if not (and $kafka.sasl.username $kafka.sasl.secretName) }}
{{- fail (printf "kafka.securityProtocol %s needs kafka.sasl.username and kafka.sasl.secretName" $protocol) }}
{{- end }}
- name: CREATIVELOOP_KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
- name: CREATIVELOOP_KAFKA_SASL_USERNAME
  value: {{ $kafka.sasl.username | quote }}
- name: CREATIVELOOP_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $kafka.sasl.secretName }}
      key: {{ $kafka.sasl.passwordKey }}
{{- end }}
{{- if and (hasSuffix "SSL" $protocol) $kafka.tls.secretName }}
- name: CREATIVELOOP_KAFKA_SSL_CA_FILE
  value: {{ printf "%s/ca.crt" $kafka.tls.mountPath | quote }}
{{- if $kafka.tls.certKey }}
- name: CREATIVELOOP_KAFKA_SSL_CERT_FILE
  value: {{ printf "%s/client.crt" $kafka.tls.mountPath | quote }}
- name: CREATIVELOOP_KAFKA_SSL_KEY_FILE
  value: {{ printf "%s/client.key" $kafka.tls.mountPath | quote }}
{{- end }}
{{- else if $kafka.tls.secretName }}
{{- fail "kafka.tls.secretName needs kafka.securityProtocol SSL or SASL_SSL" }}
{{- end }}
{{- end }}

{{/* The Kafka TLS volume mount and volume (nothing unless kafka.tls.secretName is set). */}}
{{- define "creativeloop.kafkaTlsMount" -}}
{{- with .Values.kafka.tls }}{{ if .secretName }}
- name: kafka-tls
  mountPath: {{ .mountPath }}
  readOnly: true
{{- end }}{{ end }}
{{- end }}

{{- define "creativeloop.kafkaTlsVolume" -}}
{{- with .Values.kafka.tls }}{{ if .secretName }}
- name: kafka-tls
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    items:
      - key: {{ .caKey }}
        path: ca.crt
      {{- if .certKey }}
      - key: {{ .certKey }}
        path: client.crt
      - key: {{ required "kafka.tls.keyKey is required with kafka.tls.certKey" .keyKey }}
        path: client.key
      {{- end }}
{{- end }}{{ end }}
{{- end }}

{{/* Environment every container gets unless commonEnv or a service's env overrides it. */}}
{{- define "creativeloop.defaultEnv" -}}
HOME: /tmp
PYTHONDONTWRITEBYTECODE: "1"
PYTHONUNBUFFERED: "1"
ORT_DISABLE_TELEMETRY: "1"
{{- end }}

{{/* The /tmp volume every container gets (the root filesystem is read-only). */}}
{{- define "creativeloop.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/*
The model client's environment (ModelSettings, prefix CREATIVELOOP_MODELS_): the one place that
maps the `models` values to variables. Call with (dict "root" $ "svc" $svc "name" $name): the service's own
`models` block (embedded tuning: providers, threads, micro-batching) over the shared one. A YAML
list of {name, key, set, value}: `key` is the value that sets the variable (named in the error
when a user sets it by hand), `set` whether the variable applies to the chosen backend. Every
service renders the `set` ones and refuses all of them in env/extraEnv/commonEnv.
*/}}
{{- define "creativeloop.modelsEnvSpec" -}}
{{- /* Key by key (not `merge`, which would let the shared value win over a service's 0). */}}
{{- $m := deepCopy .root.Values.models }}
{{- range $key, $value := (.svc.models | default dict) }}{{ $_ := set $m $key $value }}{{ end }}
{{- $own := printf " or services.%s.models" .name }}
{{- $embedded := eq $m.backend "embedded" }}
{{- $triton := eq $m.backend "triton" }}
- {name: CREATIVELOOP_MODELS_BACKEND, key: models.backend, set: true, value: {{ $m.backend | quote }}}
- {name: CREATIVELOOP_MODELS_REPOSITORY, key: models.repositoryPath, set: {{ $embedded }}, value: {{ $m.repositoryPath | quote }}}
- {name: CREATIVELOOP_MODELS_PROVIDERS, key: {{ printf "models.providers%s.providers" $own | quote }}, set: {{ $embedded }}, value: {{ $m.providers | quote }}}
- {name: CREATIVELOOP_MODELS_INTRA_OP_THREADS, key: {{ printf "models.intraOpThreads%s.intraOpThreads" $own | quote }}, set: {{ $embedded }}, value: {{ $m.intraOpThreads | toString | quote }}}
- {name: CREATIVELOOP_MODELS_INTER_OP_THREADS, key: {{ printf "models.interOpThreads%s.interOpThreads" $own | quote }}, set: {{ $embedded }}, value: {{ $m.interOpThreads | toString | quote }}}
- {name: CREATIVELOOP_MODELS_MICRO_BATCH_MAX, key: {{ printf "models.microBatchMax%s.microBatchMax" $own | quote }}, set: {{ $embedded }}, value: {{ $m.microBatchMax | toString | quote }}}
- {name: CREATIVELOOP_MODELS_MICRO_BATCH_WAIT_MS, key: {{ printf "models.microBatchWaitMs%s.microBatchWaitMs" $own | quote }}, set: {{ $embedded }}, value: {{ $m.microBatchWaitMs | toString | quote }}}
- {name: CREATIVELOOP_MODELS_TRITON_URL, key: models.tritonUrl, set: {{ $triton }}, value: {{ include "creativeloop.tritonUrl" .root | quote }}}
- {name: CREATIVELOOP_MODELS_TRITON_TIMEOUT_S, key: models.tritonTimeoutSeconds, set: {{ $triton }}, value: {{ $m.tritonTimeoutSeconds | toString | quote }}}
- {name: CREATIVELOOP_MODELS_TRITON_RETRIES, key: models.tritonRetries, set: {{ $triton }}, value: {{ $m.tritonRetries | toString | quote }}}
{{- end }}

{{/* The variables of creativeloop.modelsEnvSpec that apply to the chosen backend, as EnvVars.
Call with (dict "root" $ "svc" $svc "name" $name). */}}
{{- define "creativeloop.modelsEnv" -}}
{{- range include "creativeloop.modelsEnvSpec" . | fromYamlArray }}
{{- if .set }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Triton gRPC endpoint the services call: models.tritonUrl, else this release's Triton Service
(triton.enabled), else "" (only with backend embedded; creativeloop.checkModels fails otherwise).
*/}}
{{- define "creativeloop.tritonUrl" -}}
{{- if .Values.models.tritonUrl }}
{{- .Values.models.tritonUrl }}
{{- else if .Values.triton.enabled }}
{{- printf "%s:%v" (include "creativeloop.componentName" (dict "root" . "name" "triton")) .Values.triton.ports.grpc }}
{{- end }}
{{- end }}

{{/* Where Triton reads the repository: the object-storage URL or the mounted volume's path. */}}
{{- define "creativeloop.tritonRepository" -}}
{{- $repo := .Values.triton.modelRepository }}
{{- if $repo.url }}
{{- $repo.url }}
{{- else }}
{{- $repo.mountPath }}
{{- end }}
{{- end }}

{{/* Claim of Triton's repository volume ("" with an object-storage URL). */}}
{{- define "creativeloop.tritonClaim" -}}
{{- $repo := .Values.triton.modelRepository }}
{{- if $repo.existingClaim }}
{{- $repo.existingClaim }}
{{- else if $repo.persistence.enabled }}
{{- printf "%s-models" (include "creativeloop.componentName" (dict "root" . "name" "triton")) }}
{{- end }}
{{- end }}

{{/* Fail on model and Triton values that contradict each other. Renders nothing. */}}
{{- define "creativeloop.checkModels" -}}
{{- $m := .Values.models }}
{{- $t := .Values.triton }}
{{- if and (eq $m.backend "triton") (not $m.tritonUrl) (not $t.enabled) }}
{{- fail "models.backend=triton needs a Triton server: set triton.enabled=true (this release runs one) or models.tritonUrl (host:port of an existing one)" }}
{{- end }}
{{- if and (ne $m.backend "embedded") $m.existingClaim }}
{{- fail "models.existingClaim mounts the repository for the embedded backend: with models.backend=triton, give Triton the repository (triton.modelRepository)" }}
{{- end }}
{{- if $t.enabled }}
{{- $repo := $t.modelRepository }}
{{- $volumes := 0 }}
{{- if $repo.url }}{{ $volumes = add1 $volumes }}{{ end }}
{{- if $repo.existingClaim }}{{ $volumes = add1 $volumes }}{{ end }}
{{- if $repo.persistence.enabled }}{{ $volumes = add1 $volumes }}{{ end }}
{{- if eq $volumes 0 }}
{{- fail "triton.enabled needs a model repository: set triton.modelRepository.url (s3://, gs://, as://), .existingClaim or .persistence.enabled" }}
{{- end }}
{{- if gt $volumes 1 }}
{{- fail "triton.modelRepository: set only one of url, existingClaim and persistence.enabled" }}
{{- end }}
{{- if and $repo.credentialsSecret (not $repo.url) }}
{{- fail "triton.modelRepository.credentialsSecret is for object storage: set triton.modelRepository.url too" }}
{{- end }}
{{- if ge (int $t.exitTimeoutSeconds) (int $t.terminationGracePeriodSeconds) }}
{{- fail (printf "triton.exitTimeoutSeconds (%v) must be below triton.terminationGracePeriodSeconds (%v)" $t.exitTimeoutSeconds $t.terminationGracePeriodSeconds) }}
{{- end }}
{{- end }}
{{- end }}
