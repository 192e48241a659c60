# No privileged containers.
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_privileged contains k8s.result(msg, sprintf("%s.securityContext.privileged", [entry.path])) if {
	some entry in k8s.containers
	object.get(entry.container, ["securityContext", "privileged"], false) == true
	msg := sprintf("%s: container \"%s\" is privileged", [k8s.subject, k8s.container_name(entry.container)])
}
