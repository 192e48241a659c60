package main

import rego.v1

pss_namespace(labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": labels}}

pss_restricted := pss_namespace({"pod-security.kubernetes.io/enforce": "restricted"})

pss_baseline := pss_namespace({"pod-security.kubernetes.io/enforce": "baseline"})

pss_unlabelled := pss_namespace({})

test_restricted_allowed if {
	count(deny_namespace_pod_security) == 0 with input as pss_restricted
}

test_baseline_denied if {
	deny_namespace_pod_security == {{"msg": "Namespace team: label pod-security.kubernetes.io/enforce is baseline; set it to restricted", "path": "$.metadata.labels"}} with input as pss_baseline
}

test_unlabelled_denied if {
	count(deny_namespace_pod_security) == 1 with input as pss_unlabelled
}
