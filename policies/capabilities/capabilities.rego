# Containers must drop ALL capabilities and may add back only the allowed ones
# (data.gitops.allowed_capabilities, the Pod Security "restricted" set).
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_capabilities_not_dropped contains k8s.result(msg, entry.path) if {
	some entry in k8s.containers
	drops := {upper(c) | some c in object.get(entry.container, ["securityContext", "capabilities", "drop"], [])}
	not "ALL" in drops
	msg := sprintf("%s: container \"%s\" must drop ALL capabilities (securityContext.capabilities.drop: [ALL])", [k8s.subject, k8s.container_name(entry.container)])
}

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_dangerous_capabilities contains k8s.result(msg, sprintf("%s.securityContext.capabilities.add[%d]", [entry.path, i])) if {
	some entry in k8s.containers
	some i, cap in object.get(entry.container, ["securityContext", "capabilities", "add"], [])
	not trim_prefix(upper(cap), "CAP_") in {upper(c) | some c in data.gitops.allowed_capabilities}
	msg := sprintf("%s: container \"%s\" adds capability %s; only %v may be added", [k8s.subject, k8s.container_name(entry.container), cap, data.gitops.allowed_capabilities])
}
