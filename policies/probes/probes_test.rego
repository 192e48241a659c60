package main

import rego.v1

probes_deployment(container) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
	"initContainers": [{"name": "setup"}],
	"containers": [container],
}}}}

probes_both := probes_deployment({"name": "c", "livenessProbe": {"httpGet": {"port": 8080}}, "readinessProbe": {"httpGet": {"port": 8080}}})

probes_no_readiness := probes_deployment({"name": "c", "livenessProbe": {"httpGet": {"port": 8080}}})

probes_job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}

test_both_probes_allowed if {
	count(deny_probes) == 0 with input as probes_both
}

test_missing_readiness_denied if {
	deny_probes == {{"msg": "Deployment d: container \"c\" has no readinessProbe", "path": "$.spec.template.spec.containers[0]"}} with input as probes_no_readiness
}

test_job_exempt if {
	count(deny_probes) == 0 with input as probes_job
}
