package main

import rego.v1

caps_pod(caps) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": {"capabilities": caps}}]}}

caps_dropped := caps_pod({"drop": ["ALL"]})

caps_bind_service := caps_pod({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})

caps_not_dropped := caps_pod({"drop": ["NET_RAW"]})

caps_sys_admin := caps_pod({"drop": ["ALL"], "add": ["SYS_ADMIN"]})

test_drop_all_allowed if {
	count(deny_capabilities_not_dropped) + count(deny_dangerous_capabilities) == 0 with input as caps_dropped
}

test_net_bind_service_allowed if {
	count(deny_dangerous_capabilities) == 0 with input as caps_bind_service
}

test_missing_drop_all_denied if {
	count(deny_capabilities_not_dropped) == 1 with input as caps_not_dropped
}

test_sys_admin_denied if {
	some result in deny_dangerous_capabilities with input as caps_sys_admin
	contains(result.msg, "adds capability SYS_ADMIN")
	result.path == "$.spec.containers[0].securityContext.capabilities.add[0]"
}
