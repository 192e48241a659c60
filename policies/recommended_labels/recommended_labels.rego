# Every object carries the recommended labels listed in data.gitops.required_labels.
package main

import rego.v1

import data.lib.k8s

deny_recommended_labels contains k8s.result(msg, "$.metadata.labels") if {
	input.metadata
	some label in data.gitops.required_labels
	not input.metadata.labels[label]
	msg := sprintf("%s: missing recommended label %s", [k8s.subject, label])
}
