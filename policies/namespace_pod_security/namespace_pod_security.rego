# Namespaces enforce the Pod Security "restricted" profile.
package main

import rego.v1

pss_label := "pod-security.kubernetes.io/enforce"

# METADATA
# title: Namespaces enforce Pod Security restricted
# description: Every Namespace enforces the restricted Pod Security Standard.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
# custom:
#   kinds: [Namespace]
deny_namespace_pod_security contains data.lib.k8s.result(msg, "$.metadata.labels") if {
	input.kind == "Namespace"
	level := enforce_level
	level != "restricted"
	msg := sprintf("%s: label %s is %s; set it to restricted", [data.lib.k8s.subject, pss_label, level])
}

enforce_level := value if {
	value := input.metadata.labels[pss_label]
	is_string(value)
} else := "unset"
