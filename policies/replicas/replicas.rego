# Production keeps at least data.gitops.min_production_replicas pods: on the workload when it
# sets replicas, and on the HorizontalPodAutoscaler's minReplicas when one scales it.
package main

import rego.v1

# METADATA
# title: Enough production replicas
# description: Production keeps at least data.gitops.min_production_replicas pods, on the workload or on the HorizontalPodAutoscaler that scales it.
# custom:
#   kinds: [Deployment, StatefulSet, Rollout]
deny_production_replicas contains data.lib.k8s.result(msg, "$.spec.replicas") if {
	data.lib.k8s.is_production
	input.kind in data.lib.k8s.service_kinds
	replicas := input.spec.replicas
	is_number(replicas)
	replicas < data.gitops.min_production_replicas
	msg := sprintf("%s: %d replicas in production namespace %s; run at least %d", [data.lib.k8s.subject, replicas, data.lib.k8s.namespace, data.gitops.min_production_replicas])
}

# METADATA
# custom:
#   kinds: [HorizontalPodAutoscaler]
deny_production_replicas contains data.lib.k8s.result(msg, "$.spec.minReplicas") if {
	data.lib.k8s.is_production
	input.kind == "HorizontalPodAutoscaler"
	minimum := object.get(input.spec, "minReplicas", 1)
	is_number(minimum)
	minimum < data.gitops.min_production_replicas
	msg := sprintf("%s: minReplicas %d in production namespace %s; keep at least %d", [data.lib.k8s.subject, minimum, data.lib.k8s.namespace, data.gitops.min_production_replicas])
}
