package main

import rego.v1

resources_pod(resources) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": resources}]}}

resources_complete := resources_pod({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}})

resources_no_memory_limit := resources_pod({"requests": {"cpu": "100m", "memory": "64Mi"}})

resources_none := resources_pod({})

test_complete_resources_allowed if {
	count(deny_resources) == 0 with input as resources_complete
}

test_missing_memory_limit_denied if {
	deny_resources == {{"msg": "Pod p: container \"c\" has no resources.limits.memory", "path": "$.spec.containers[0].resources"}} with input as resources_no_memory_limit
}

test_no_resources_denied_three_times if {
	count(deny_resources) == 3 with input as resources_none
}
