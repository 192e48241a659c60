# Long-running pods must not mount a ServiceAccount token they do not need
# (automountServiceAccountToken: false on the pod spec). Jobs and workflows are exempt: Argo
# Workflows' executor talks to the API server with the token.
package main

import rego.v1

token_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Rollout"}

# METADATA
# title: No unneeded ServiceAccount tokens
# description: Long-running pods do not mount a ServiceAccount token they do not need (Jobs and workflows are exempt).
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Rollout]
deny_automount_token contains data.lib.k8s.result(msg, pod.path) if {
	input.kind in token_kinds
	some pod in data.lib.k8s.pods
	not object.get(pod.spec, "automountServiceAccountToken", true) == false
	msg := sprintf("%s: pod spec must set automountServiceAccountToken: false", [data.lib.k8s.subject])
}
