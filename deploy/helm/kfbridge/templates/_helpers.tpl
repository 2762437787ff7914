{{/* The release's name prefix, at most 63 characters with the longest suffix. */}}
{{- define "kfbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kfbridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one part: call with (dict "root" $ "part" "ingress"). */}}
{{- define "kfbridge.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .part }}
{{- end -}}

{{- define "kfbridge.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "kfbridge.fullname" .)) -}}
{{- end -}}

{{- define "kfbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kfbridge.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Whether an app takes no AES key: its modes are exactly [plaintext]. */}}
{{- define "kfbridge.plaintextOnly" -}}
{{- if and .modes (eq (len .modes) 1) (eq (first .modes) "plaintext") -}}true{{- end -}}
{{- end -}}

{{/*
The configuration file of one part (dict "root" $ "part" "ingress"|"egress";
README "Configuration"): .Values.config with the NATS connection and the
apps the values give; the egress's leaves out the apps' modes and passive
replies, which are the ingress's (and would ask for the AES key the egress
is not given). It never holds a secret: they reach the process as
KFBRIDGE_… variables from the Secret.
*/}}
{{- define "kfbridge.config" -}}
{{- $part := .part -}}
{{- with .root -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- if hasKey $cfg "apps" -}}
{{- fail "config.apps: list the apps under apps: (and their secrets in the Secret), not in config" -}}
{{- end -}}
{{- $nats := get $cfg "nats" | default dict -}}
{{- range $k := list "url" "user" "password" "token" "creds_file" "nkey_file" "tls" "embedded" -}}
{{- if hasKey $nats $k -}}
{{- fail (printf "config.nats.%s: set it with the chart's nats values (and secrets in the Secret), not in config; the chart runs no embedded NATS" $k) -}}
{{- end -}}
{{- end -}}
{{- range $part, $keys := dict "ingress" (list "listen" "admin_listen") "egress" (list "listen") -}}
{{- $p := get $cfg $part | default dict -}}
{{- range $k := $keys -}}
{{- if hasKey $p $k -}}
{{- fail (printf "config.%s.%s: the chart sets the listen addresses from %s.port / %s.adminPort" $part $k $part $part) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $nats "url" .Values.nats.url -}}
{{- $auth := .Values.nats.auth -}}
{{- if eq $auth "password" -}}
{{- $_ := set $nats "user" (required "nats.user: the NATS user of the bridge (auth: password)" .Values.nats.user) -}}
{{- else if eq $auth "creds" -}}
{{- $_ := set $nats "creds_file" "/etc/kfbridge/nats/nats.creds" -}}
{{- else if eq $auth "nkey" -}}
{{- $_ := set $nats "nkey_file" "/etc/kfbridge/nats/nats.nkey" -}}
{{- else if not (has $auth (list "none" "token")) -}}
{{- fail (printf "nats.auth %q: want none, password, token, creds or nkey" $auth) -}}
{{- end -}}
{{- if .Values.nats.tls.enabled -}}
{{- $tls := dict "enabled" true -}}
{{- if .Values.nats.tls.secretName -}}
{{- $_ := set $tls "ca_file" "/etc/kfbridge/nats-tls/ca.crt" -}}
{{- if .Values.nats.tls.clientCert -}}
{{- $_ := set $tls "cert_file" "/etc/kfbridge/nats-tls/tls.crt" -}}
{{- $_ := set $tls "key_file" "/etc/kfbridge/nats-tls/tls.key" -}}
{{- end -}}
{{- else if .Values.nats.tls.clientCert -}}
{{- fail "nats.tls.clientCert: needs nats.tls.secretName (a Secret with tls.crt and tls.key)" -}}
{{- end -}}
{{- $_ := set $nats "tls" $tls -}}
{{- end -}}
{{- $_ := set $cfg "nats" $nats -}}
{{- $apps := list -}}
{{- range $i, $a := .Values.apps -}}
{{- $app := dict "appid" (required (printf "apps[%d].appid" $i) $a.appid) -}}
{{- if eq $part "ingress" -}}
{{- with $a.modes }}{{ $_ := set $app "modes" . }}{{ end -}}
{{- with $a.passiveReply }}{{ $_ := set $app "passive_reply" . }}{{ end -}}
{{- end -}}
{{- range $k := keys $a -}}
{{- if not (has $k (list "appid" "modes" "passiveReply")) -}}
{{- fail (printf "apps[%d].%s: an app takes appid, modes and passiveReply; its secrets are keys of the Secret" $i $k) -}}
{{- end -}}
{{- end -}}
{{- $apps = append $apps $app -}}
{{- end -}}
{{- if $apps -}}
{{- $_ := set $cfg "apps" $apps -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
{{- end -}}

{{/* secretEnv: one env entry from a key of the Secret. */}}
{{- define "kfbridge.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "kfbridge.secretName" .root }}
      key: {{ .key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
The environment of one part (dict "root" $ "part" "ingress"|"egress"): its
listen addresses, the secrets it needs (and no others) and extraEnv.
*/}}
{{- define "kfbridge.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- if eq .part "ingress" }}
- name: KFBRIDGE_INGRESS_LISTEN
  value: "0.0.0.0:{{ $v.ingress.port }}"
- name: KFBRIDGE_INGRESS_ADMIN_LISTEN
  value: "0.0.0.0:{{ $v.ingress.adminPort }}"
{{- else }}
- name: KFBRIDGE_EGRESS_LISTEN
  value: "0.0.0.0:{{ $v.egress.port }}"
{{- end }}
{{- if eq $v.nats.auth "password" }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" "KFBRIDGE_NATS_PASSWORD" "key" "nats.password") }}
{{- else if eq $v.nats.auth "token" }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" "KFBRIDGE_NATS_TOKEN" "key" "nats.token") }}
{{- end }}
{{- range $i, $a := $v.apps }}
{{- if eq $.part "ingress" }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" (printf "KFBRIDGE_APPS_%d_TOKEN" $i) "key" (printf "%s.token" $a.appid)) }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" (printf "KFBRIDGE_APPS_%d_PREVIOUS_TOKEN" $i) "key" (printf "%s.previous_token" $a.appid) "optional" true) }}
{{- if not (include "kfbridge.plaintextOnly" $a) }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" (printf "KFBRIDGE_APPS_%d_ENCODING_AES_KEY" $i) "key" (printf "%s.encoding_aes_key" $a.appid)) }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" (printf "KFBRIDGE_APPS_%d_PREVIOUS_ENCODING_AES_KEY" $i) "key" (printf "%s.previous_encoding_aes_key" $a.appid) "optional" true) }}
{{- end }}
{{- else }}
{{ include "kfbridge.secretEnv" (dict "root" $root "name" (printf "KFBRIDGE_APPS_%d_SECRET" $i) "key" (printf "%s.secret" $a.appid)) }}
{{- end }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod template of one part: (dict "root" $ "part" "ingress"|"egress"). */}}
{{- define "kfbridge.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $p := get $v .part -}}
{{- $img := get $v.image .part -}}
{{- $admin := ternary $v.ingress.adminPort $v.egress.port (eq .part "ingress") -}}
metadata:
  labels:
    {{- include "kfbridge.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .part }}
  annotations:
    checksum/config: {{ include "kfbridge.config" . | sha256sum }}
    {{- if not $v.secrets.existingSecret }}
    checksum/secrets: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- end }}
    {{- with $p.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "kfbridge.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $v.serviceAccount.automount }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $p.terminationGracePeriodSeconds }}
  containers:
    - name: {{ .part }}
      image: "{{ $img.repository }}:{{ $img.tag | default $root.Chart.AppVersion }}"
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args: ["--config", "/etc/kfbridge/{{ .part }}.yaml"]
      env:
        {{- include "kfbridge.env" (dict "root" $root "part" .part) | trim | nindent 8 }}
      ports:
        {{- if eq .part "ingress" }}
        - name: http
          containerPort: {{ $v.ingress.port }}
          protocol: TCP
        {{- end }}
        - name: admin
          containerPort: {{ $admin }}
          protocol: TCP
      startupProbe:
        httpGet: { path: /healthz, port: admin }
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet: { path: /healthz, port: admin }
        {{- toYaml $v.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet: { path: /readyz, port: admin }
        {{- toYaml $v.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml $p.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/kfbridge/{{ .part }}.yaml
          subPath: {{ .part }}.yaml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if has $v.nats.auth (list "creds" "nkey") }}
        - name: nats-auth
          mountPath: /etc/kfbridge/nats
          readOnly: true
        {{- end }}
        {{- if and $v.nats.tls.enabled $v.nats.tls.secretName }}
        - name: nats-tls
          mountPath: /etc/kfbridge/nats-tls
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "kfbridge.fullname" $root }}-config
    - name: tmp
      emptyDir: { sizeLimit: 16Mi }
    {{- if has $v.nats.auth (list "creds" "nkey") }}
    - name: nats-auth
      secret:
        secretName: {{ include "kfbridge.secretName" $root }}
        defaultMode: 0440
        items:
          - key: nats.{{ $v.nats.auth }}
            path: nats.{{ $v.nats.auth }}
    {{- end }}
    {{- if and $v.nats.tls.enabled $v.nats.tls.secretName }}
    - name: nats-tls
      secret:
        secretName: {{ $v.nats.tls.secretName }}
        defaultMode: 0440
        items:
          - { key: ca.crt, path: ca.crt }
          {{- if $v.nats.tls.clientCert }}
          - { key: tls.crt, path: tls.crt }
          - { key: tls.key, path: tls.key }
          {{- end }}
    {{- end }}
  {{- with $p.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
