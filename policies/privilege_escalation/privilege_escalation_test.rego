package main

import rego.v1

escalation_pod(ctx) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": ctx}]}}

escalation_off := escalation_pod({"allowPrivilegeEscalation": false})

escalation_unset := escalation_pod({})

escalation_on := escalation_pod({"allowPrivilegeEscalation": true})

test_escalation_off_allowed if {
	count(deny_privilege_escalation) == 0 with input as escalation_off
}

test_escalation_unset_denied if {
	count(deny_privilege_escalation) == 1 with input as escalation_unset
}

test_escalation_on_denied if {
	some result in deny_privilege_escalation with input as escalation_on
	contains(result.msg, "Pod p: container \"c\"")
}
