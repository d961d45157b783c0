{{/*
The controller's image: repository:tag, or the repository alone when tag is empty (for a
repository@sha256:... reference).
*/}}
{{- define "module-controller.image" -}}
{{- if .Values.image.tag -}}
{{- printf "%s:%v" .Values.image.repository .Values.image.tag -}}
{{- else -}}
{{- .Values.image.repository -}}
{{- end -}}
{{- end -}}

{{/*
The controller's arguments as a JSON list; the values are checked here first. The same list
as Options.controller_args() of module_controller/manifests/render.py: a test renders both for
the same values and compares the objects.
*/}}
{{- define "module-controller.args" -}}
{{- if not (has .Values.mode (list "cluster" "namespaced")) -}}
{{- fail (printf "mode must be cluster or namespaced, not %q" (toString .Values.mode)) -}}
{{- end -}}
{{- if lt (int .Values.replicas) 1 -}}
{{- fail "replicas must be at least 1" -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection) -}}
{{- fail "more than one replica needs leaderElection: without it every replica would act on the same objects" -}}
{{- end -}}
{{- if not (has .Values.moduleServices (list "nodeport" "clusterip" "disabled")) -}}
{{- fail (printf "moduleServices must be nodeport, clusterip or disabled, not %q" (toString .Values.moduleServices)) -}}
{{- end -}}
{{- $args := list "run" -}}
{{- if eq .Values.mode "namespaced" -}}
{{- range .Values.watchNamespaces -}}
{{- if ne . $.Release.Namespace -}}
{{- fail "namespaced mode serves only the release namespace; use mode: cluster to serve others" -}}
{{- end -}}
{{- end -}}
{{- $args = append $args (printf "--namespace=%s" .Release.Namespace) -}}
{{- else -}}
{{- range (uniq .Values.watchNamespaces) -}}
{{- $args = append $args (printf "--namespace=%s" .) -}}
{{- end -}}
{{- end -}}
{{- $args = append $args (printf "--probe-port=%d" (int .Values.probePort)) -}}
{{- $args = append $args "--probe-host=$(POD_IP)" -}}
{{- $args = append $args (ternary "--leader-election" "--no-leader-election" (eq (toString .Values.leaderElection) "true")) -}}
{{- $args = append $args (printf "--log-level=%s" .Values.logLevel) -}}
{{- $args = append $args (printf "--module-services=%s" .Values.moduleServices) -}}
{{- $args = append $args (ternary "--pod-deletion" "--no-pod-deletion" (eq (toString .Values.podDeletion) "true")) -}}
{{- range .Values.extraArgs -}}
{{- $args = append $args (toString .) -}}
{{- end -}}
{{- toJson $args -}}
{{- end -}}
