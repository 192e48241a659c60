package main

import rego.v1

rbac_role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}, "rules": rules}

rbac_specific := rbac_role([{"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get", "list"]}])

rbac_all_verbs := rbac_role([{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}])

rbac_everything := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "god"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}

test_specific_rules_allowed if {
	count(deny_rbac_wildcard) == 0 with input as rbac_specific
}

test_wildcard_verbs_denied if {
	deny_rbac_wildcard == {{"msg": "Role r: rule 0 grants \"*\" in verbs; list what is needed", "path": "$.rules[0].verbs"}} with input as rbac_all_verbs
}

test_everything_denied_three_times if {
	count(deny_rbac_wildcard) == 3 with input as rbac_everything
}
