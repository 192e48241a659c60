# Containers must set allowPrivilegeEscalation: false.
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_privilege_escalation contains k8s.result(msg, entry.path) if {
	some entry in k8s.containers
	not object.get(entry.container, ["securityContext", "allowPrivilegeEscalation"], true) == false
	msg := sprintf("%s: container \"%s\" must set securityContext.allowPrivilegeEscalation: false", [k8s.subject, k8s.container_name(entry.container)])
}
