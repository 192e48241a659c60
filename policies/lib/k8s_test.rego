package lib.k8s_test

import rego.v1

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web"},
	"spec": {"template": {"spec": {
		"initContainers": [{"name": "init", "image": "i"}],
		"containers": [{"name": "app", "image": "a", "securityContext": {"runAsNonRoot": false}}],
		"securityContext": {"runAsNonRoot": true, "runAsUser": 1000},
	}}},
}

cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "nightly"},
	"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "image": "j"}]}}}}},
}

workflow := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "WorkflowTemplate",
	"metadata": {"name": "train"},
	"spec": {"templates": [{"name": "dag", "dag": {}}, {"name": "step", "container": {"image": "s"}}]},
}

test_deployment_containers_with_paths if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as deployment
	paths == {"$.spec.template.spec.initContainers[0]", "$.spec.template.spec.containers[0]"}
}

test_cronjob_container_path if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as cronjob
	paths == {"$.spec.jobTemplate.spec.template.spec.containers[0]"}
}

test_workflow_template_containers if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as workflow
	paths == {"$.spec.templates[1].container"}
}

test_container_setting_overrides_pod if {
	values := {data.lib.k8s.container_name(e.container): data.lib.k8s.security(e, "runAsNonRoot") | some e in data.lib.k8s.containers} with input as deployment
	values == {"init": true, "app": false}
}

test_subject_names_kind_and_name if {
	data.lib.k8s.subject == "Deployment web" with input as deployment
}

replication_controller := {
	"apiVersion": "v1",
	"kind": "ReplicationController",
	"metadata": {"name": "legacy"},
	"spec": {"template": {"spec": {"containers": [{"name": "rc", "image": "r"}]}}},
}

pod_template := {
	"apiVersion": "v1",
	"kind": "PodTemplate",
	"metadata": {"name": "tpl"},
	"template": {"spec": {"containers": [{"name": "t", "image": "t"}]}},
}

bare_pod := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "p"},
	"spec": {"containers": [{"name": "p", "image": "p"}], "ephemeralContainers": [{"name": "debug", "image": "d"}]},
}

other_group := {
	"apiVersion": "example.org/v1",
	"kind": "Deployment",
	"metadata": {"name": "not-apps"},
	"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "x"}]}}},
}

container_set := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "CronWorkflow",
	"metadata": {"name": "nightly"},
	"spec": {"workflowSpec": {"templates": [{
		"name": "set",
		"containerSet": {"containers": [{"name": "a", "image": "a"}]},
		"sidecars": [{"name": "proxy", "image": "p"}],
	}]}},
}

test_replication_controller_is_a_pod_kind if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as replication_controller
	paths == {"$.spec.template.spec.containers[0]"}
}

test_pod_template_is_a_pod_kind if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as pod_template
	paths == {"$.template.spec.containers[0]"}
}

test_pod_with_ephemeral_container if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as bare_pod
	paths == {"$.spec.containers[0]", "$.spec.ephemeralContainers[0]"}
}

test_kind_of_another_group_has_no_pods if {
	count(data.lib.k8s.pods) == 0 with input as other_group
}

test_container_set_and_sidecars if {
	paths := {e.path | some e in data.lib.k8s.containers} with input as container_set
	paths == {"$.spec.workflowSpec.templates[0].containerSet.containers[0]", "$.spec.workflowSpec.templates[0].sidecars[0]"}
}
