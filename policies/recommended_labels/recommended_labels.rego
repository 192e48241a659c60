# Every object carries the recommended labels listed in data.gitops.required_labels, and every
# pod template (the pods a workload creates) those in data.gitops.required_template_labels.
package main

import rego.v1

# METADATA
# title: Recommended labels
# description: Every object carries the recommended labels listed in data.gitops.required_labels.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
deny_recommended_labels contains data.lib.k8s.result(msg, "$.metadata.labels") if {
	input.metadata
	some label in data.gitops.required_labels
	not input.metadata.labels[label]
	msg := sprintf("%s: missing recommended label %s", [data.lib.k8s.subject, label])
}

deny_recommended_labels contains data.lib.k8s.result(msg, path) if {
	entry := data.lib.k8s.pod_kind
	count(entry.pod) > 0
	template := data.lib.k8s.at(entry.pod)
	is_object(template)
	some label in data.gitops.required_template_labels
	object.get(template, ["metadata", "labels", label], null) == null
	path := sprintf("%s.metadata.labels", [data.lib.k8s.json_path(entry.pod)])
	msg := sprintf("%s: pod template is missing recommended label %s", [data.lib.k8s.subject, label])
}
