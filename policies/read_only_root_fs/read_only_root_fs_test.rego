package main

import rego.v1

root_fs_pod(ctx) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": ctx}]}}

root_fs_read_only := root_fs_pod({"readOnlyRootFilesystem": true})

root_fs_writable := root_fs_pod({"readOnlyRootFilesystem": false})

root_fs_unset := root_fs_pod({})

test_read_only_allowed if {
	count(deny_writable_root_fs) == 0 with input as root_fs_read_only
}

test_writable_denied if {
	count(deny_writable_root_fs) == 1 with input as root_fs_writable
}

test_unset_denied if {
	count(deny_writable_root_fs) == 1 with input as root_fs_unset
}
