# Long-running containers have liveness and readiness probes (Jobs and workflows are exempt).
package main

import rego.v1

# METADATA
# title: Long-running containers have probes
# description: Long-running containers have liveness and readiness probes (Jobs and workflows are exempt).
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   kinds: [Deployment, StatefulSet, Rollout]
deny_probes contains data.lib.k8s.result(msg, entry.path) if {
	input.kind in data.lib.k8s.service_kinds
	some entry in data.lib.k8s.containers
	not entry.init
	some probe in ["livenessProbe", "readinessProbe"]
	not entry.container[probe]
	msg := sprintf("%s: container \"%s\" has no %s", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), probe])
}
