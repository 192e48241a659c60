package main

import rego.v1

token_deployment(spec) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": object.union({"containers": [{"name": "c"}]}, spec)}}}

token_off := token_deployment({"automountServiceAccountToken": false})

token_default := token_deployment({})

token_job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}

test_token_off_allowed if {
	count(deny_automount_token) == 0 with input as token_off
}

test_token_default_denied if {
	deny_automount_token == {{"msg": "Deployment d: pod spec must set automountServiceAccountToken: false", "path": "$.spec.template.spec"}} with input as token_default
}

test_job_exempt if {
	count(deny_automount_token) == 0 with input as token_job
}
