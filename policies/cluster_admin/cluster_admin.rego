# Nobody is bound to cluster-admin from git.
package main

import rego.v1

# METADATA
# title: No binding to cluster-admin
# description: Nobody is bound to the cluster-admin ClusterRole from git.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
# custom:
#   kinds: [RoleBinding, ClusterRoleBinding]
deny_cluster_admin_binding contains data.lib.k8s.result(msg, "$.roleRef.name") if {
	input.kind in {"RoleBinding", "ClusterRoleBinding"}
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name == "cluster-admin"
	msg := sprintf("%s: binds cluster-admin; grant a narrower role", [data.lib.k8s.subject])
}
