# A PodDisruptionBudget must allow at least one voluntary disruption, or node drains hang.
package main

import rego.v1

# METADATA
# title: PodDisruptionBudgets allow a disruption
# description: A PodDisruptionBudget allows at least one voluntary disruption, or node drains hang.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/
# custom:
#   kinds: [PodDisruptionBudget]
deny_pdb_blocks_disruption contains data.lib.k8s.result(msg, "$.spec.maxUnavailable") if {
	input.kind == "PodDisruptionBudget"
	input.spec.maxUnavailable in {0, "0", "0%"}
	msg := sprintf("%s: maxUnavailable %v allows no disruption; node drains would block", [data.lib.k8s.subject, input.spec.maxUnavailable])
}

# METADATA
# custom:
#   kinds: [PodDisruptionBudget]
deny_pdb_blocks_disruption contains data.lib.k8s.result(msg, "$.spec.minAvailable") if {
	input.kind == "PodDisruptionBudget"
	input.spec.minAvailable == "100%"
	msg := sprintf("%s: minAvailable 100%% allows no disruption; node drains would block", [data.lib.k8s.subject])
}
