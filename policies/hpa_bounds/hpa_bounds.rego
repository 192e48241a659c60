# A HorizontalPodAutoscaler's maxReplicas is at least its minReplicas (default 1).
package main

import rego.v1

# METADATA
# title: HPA bounds are consistent
# description: A HorizontalPodAutoscaler's maxReplicas is at least its minReplicas.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
# custom:
#   kinds: [HorizontalPodAutoscaler]
deny_hpa_bounds contains data.lib.k8s.result(msg, "$.spec.maxReplicas") if {
	input.kind == "HorizontalPodAutoscaler"
	minimum := object.get(input.spec, "minReplicas", 1)
	is_number(minimum)
	is_number(input.spec.maxReplicas)
	input.spec.maxReplicas < minimum
	msg := sprintf("%s: maxReplicas %d is below minReplicas %d", [data.lib.k8s.subject, input.spec.maxReplicas, minimum])
}
