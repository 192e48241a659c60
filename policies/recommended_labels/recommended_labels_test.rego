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
