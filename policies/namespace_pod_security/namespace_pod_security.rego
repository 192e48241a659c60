# Namespaces enforce the Pod Security "restricted" profile.
package main

import rego.v1

import data.lib.k8s

pss_label := "pod-security.kubernetes.io/enforce"

deny_namespace_pod_security contains k8s.result(msg, "$.metadata.labels") if {
	input.kind == "Namespace"
	level := object.get(input.metadata, ["labels", pss_label], "unset")
	level != "restricted"
	msg := sprintf("%s: label %s is %s; set it to restricted", [k8s.subject, pss_label, level])
}
