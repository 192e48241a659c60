# RBAC rules name their API groups, resources and verbs: no "*".
package main

import rego.v1

# METADATA
# title: No RBAC wildcards
# description: RBAC rules name their API groups, resources and verbs instead of a wildcard.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   kinds: [Role, ClusterRole]
deny_rbac_wildcard contains data.lib.k8s.result(msg, sprintf("$.rules[%d].%s", [i, field])) if {
	input.kind in {"Role", "ClusterRole"}
	some i, rule in object.get(input, "rules", [])
	some field in ["apiGroups", "resources", "verbs", "nonResourceURLs"]
	"*" in object.get(rule, field, [])
	msg := sprintf("%s: rule %d grants \"*\" in %s; list what is needed", [data.lib.k8s.subject, i, field])
}
