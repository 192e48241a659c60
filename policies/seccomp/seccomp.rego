# Pods (or every container) must use the RuntimeDefault or a Localhost seccomp profile.
package main

import rego.v1

import data.lib.k8s

allowed_seccomp := {"RuntimeDefault", "Localhost"}

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_seccomp contains k8s.result(msg, entry.path) if {
	some entry in k8s.containers
	profile := seccomp_profile(entry)
	not profile in allowed_seccomp
	msg := sprintf("%s: container \"%s\" seccomp profile is %s; use RuntimeDefault or Localhost", [k8s.subject, k8s.container_name(entry.container), profile])
}

# Container level wins over pod level.
seccomp_profile(entry) := profile if {
	profile := entry.container.securityContext.seccompProfile.type
} else := profile if {
	profile := entry.pod_security.seccompProfile.type
} else := "unset"
