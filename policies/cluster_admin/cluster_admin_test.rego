package main

import rego.v1

admin_binding(kind, role) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}

admin_view := admin_binding("RoleBinding", "view")

admin_cluster := admin_binding("ClusterRoleBinding", "cluster-admin")

admin_namespaced := admin_binding("RoleBinding", "cluster-admin")

test_view_binding_allowed if {
	count(deny_cluster_admin_binding) == 0 with input as admin_view
}

test_cluster_admin_binding_denied if {
	deny_cluster_admin_binding == {{"msg": "ClusterRoleBinding b: binds cluster-admin; grant a narrower role", "path": "$.roleRef.name"}} with input as admin_cluster
}

test_namespaced_cluster_admin_denied if {
	count(deny_cluster_admin_binding) == 1 with input as admin_namespaced
}
