# A Rollout ships by canary and every canary is judged by analysis: a background analysis or
# at least one analysis step.
package main

import rego.v1

# METADATA
# title: Rollouts ship by canary
# description: A Rollout uses the canary strategy.
# related_resources:
#   - ref: https://argo-rollouts.readthedocs.io/en/stable/features/canary/
# custom:
#   kinds: [Rollout]
deny_rollout_canary contains data.lib.k8s.result(msg, "$.spec.strategy") if {
	input.kind == "Rollout"
	not input.spec.strategy.canary
	msg := sprintf("%s: strategy is not canary; releases must go through an analysed canary", [data.lib.k8s.subject])
}

# METADATA
# title: Every canary is analysed
# description: A Rollout's canary has a background analysis or at least one analysis step.
# related_resources:
#   - ref: https://argo-rollouts.readthedocs.io/en/stable/features/analysis/
# custom:
#   kinds: [Rollout]
deny_rollout_analysis contains data.lib.k8s.result(msg, "$.spec.strategy.canary") if {
	input.kind == "Rollout"
	canary := input.spec.strategy.canary
	not has_analysis(canary)
	msg := sprintf("%s: canary has no analysis (spec.strategy.canary.analysis or an analysis step)", [data.lib.k8s.subject])
}

has_analysis(canary) if count(object.get(canary, ["analysis", "templates"], [])) > 0

has_analysis(canary) if {
	some step in object.get(canary, "steps", [])
	count(object.get(step, ["analysis", "templates"], [])) > 0
}
