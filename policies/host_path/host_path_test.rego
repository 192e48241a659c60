package main

import rego.v1

host_path_pod(volumes) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}], "volumes": volumes}}

host_path_empty_dir := host_path_pod([{"name": "tmp", "emptyDir": {}}])

host_path_docker := host_path_pod([{"name": "tmp", "emptyDir": {}}, {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}])

test_empty_dir_allowed if {
	count(deny_host_path) == 0 with input as host_path_empty_dir
}

test_host_path_denied if {
	deny_host_path == {{"msg": "Pod p: volume \"sock\" mounts hostPath /var/run/docker.sock from the node", "path": "$.spec.volumes[1].hostPath"}} with input as host_path_docker
}
