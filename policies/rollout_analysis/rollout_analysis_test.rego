package main

import rego.v1

analysis_rollout(strategy) := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}, "spec": {"strategy": strategy}}

analysis_background := analysis_rollout({"canary": {"analysis": {"templates": [{"templateName": "success-rate"}]}, "steps": [{"setWeight": 20}]}})

analysis_step := analysis_rollout({"canary": {"steps": [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "latency-p95"}]}}]}})

analysis_missing := analysis_rollout({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})

analysis_blue_green := analysis_rollout({"blueGreen": {"activeService": "a"}})

test_background_analysis_allowed if {
	count(deny_rollout_analysis) + count(deny_rollout_canary) == 0 with input as analysis_background
}

test_analysis_step_allowed if {
	count(deny_rollout_analysis) == 0 with input as analysis_step
}

test_canary_without_analysis_denied if {
	deny_rollout_analysis == {{"msg": "Rollout r: canary has no analysis (spec.strategy.canary.analysis or an analysis step)", "path": "$.spec.strategy.canary"}} with input as analysis_missing
}

test_blue_green_denied if {
	count(deny_rollout_canary) == 1 with input as analysis_blue_green
}
