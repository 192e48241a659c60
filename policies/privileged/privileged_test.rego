package main

import rego.v1

privileged_pod(value) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": {"privileged": value}}]}}

privileged_off := privileged_pod(false)

privileged_on := privileged_pod(true)

test_unprivileged_allowed if {
	count(deny_privileged) == 0 with input as privileged_off
}

test_privileged_denied if {
	deny_privileged == {{"msg": "Pod p: container \"c\" is privileged", "path": "$.spec.containers[0].securityContext.privileged"}} with input as privileged_on
}
