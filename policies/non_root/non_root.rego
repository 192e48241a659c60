# Containers must run as a non-root user: runAsNonRoot true (container or pod level) and no
# runAsUser 0.
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_run_as_root contains k8s.result(msg, entry.path) if {
	some entry in k8s.containers
	not k8s.security(entry, "runAsNonRoot") == true
	not k8s.security(entry, "runAsUser") > 0
	msg := sprintf("%s: container \"%s\" does not set runAsNonRoot: true (or a non-zero runAsUser)", [k8s.subject, k8s.container_name(entry.container)])
}

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_run_as_root contains k8s.result(msg, entry.path) if {
	some entry in k8s.containers
	k8s.security(entry, "runAsUser") == 0
	msg := sprintf("%s: container \"%s\" runs as user 0 (root)", [k8s.subject, k8s.container_name(entry.container)])
}
