package main

import rego.v1

host_ns_pod(spec) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": object.union({"containers": [{"name": "c"}]}, spec)}

host_ns_none := host_ns_pod({})

host_ns_network := host_ns_pod({"hostNetwork": true})

host_ns_all := host_ns_pod({"hostNetwork": true, "hostPID": true, "hostIPC": true})

test_no_host_namespaces_allowed if {
	count(deny_host_namespaces) == 0 with input as host_ns_none
}

test_host_network_denied if {
	deny_host_namespaces == {{"msg": "Pod p: hostNetwork: true shares the node's namespace", "path": "$.spec.hostNetwork"}} with input as host_ns_network
}

test_all_host_namespaces_denied if {
	count(deny_host_namespaces) == 3 with input as host_ns_all
}
