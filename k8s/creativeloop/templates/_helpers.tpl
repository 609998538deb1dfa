{{/*
The services this chart deploys, in start order. Each has a block under .Values.services.
*/}}
{{- define "creativeloop.serviceNames" -}}
understanding copygen imagegen ranking bandit
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
