package main

import rego.v1

labels_object(labels) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": labels}}

labels_complete := labels_object({"app.kubernetes.io/name": "s", "app.kubernetes.io/part-of": "mlops-platform"})

labels_no_part_of := labels_object({"app.kubernetes.io/name": "s"})

labels_none := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}

test_complete_labels_allowed if {
	count(deny_recommended_labels) == 0 with input as labels_complete
}

test_missing_part_of_denied if {
	deny_recommended_labels == {{"msg": "Service s: missing recommended label app.kubernetes.io/part-of", "path": "$.metadata.labels"}} with input as labels_no_part_of
}

test_no_labels_denied_per_label if {
	count(deny_recommended_labels) == 2 with input as labels_none
}

template_labels(labels) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "d", "labels": {"app.kubernetes.io/name": "d", "app.kubernetes.io/part-of": "p"}},
	"spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": []}}},
}

template_complete := template_labels({"app.kubernetes.io/name": "d", "app.kubernetes.io/part-of": "p"})

template_no_part_of := template_labels({"app.kubernetes.io/name": "d"})

labels_cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "c", "labels": {"app.kubernetes.io/name": "c", "app.kubernetes.io/part-of": "p"}},
	"spec": {"jobTemplate": {"spec": {"template": {"metadata": {}, "spec": {"containers": []}}}}},
}

test_pod_template_with_labels_allowed if {
	count(deny_recommended_labels) == 0 with input as template_complete
}

test_pod_template_without_part_of_denied if {
	deny_recommended_labels == {{"msg": "Deployment d: pod template is missing recommended label app.kubernetes.io/part-of", "path": "$.spec.template.metadata.labels"}} with input as template_no_part_of
}

test_cronjob_template_path if {
	found := deny_recommended_labels with input as labels_cronjob
	count(found) == 2
	paths := {finding.path | some finding in found}
	paths == {"$.spec.jobTemplate.spec.template.metadata.labels"}
}
