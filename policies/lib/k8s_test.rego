package lib.k8s_test

import rego.v1

import data.lib.k8s

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
	paths := {e.path | some e in k8s.containers} with input as deployment
	paths == {"$.spec.template.spec.initContainers[0]", "$.spec.template.spec.containers[0]"}
}

test_cronjob_container_path if {
	paths := {e.path | some e in k8s.containers} with input as cronjob
	paths == {"$.spec.jobTemplate.spec.template.spec.containers[0]"}
}

test_workflow_template_containers if {
	paths := {e.path | some e in k8s.containers} with input as workflow
	paths == {"$.spec.templates[1].container"}
}

test_container_setting_overrides_pod if {
	values := {k8s.container_name(e.container): k8s.security(e, "runAsNonRoot") | some e in k8s.containers} with input as deployment
	values == {"init": true, "app": false}
}

test_subject_names_kind_and_name if {
	k8s.subject == "Deployment web" with input as deployment
}
