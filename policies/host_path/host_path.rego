# No hostPath volumes.
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_host_path contains k8s.result(msg, sprintf("%s.volumes[%d].hostPath", [pod.path, i])) if {
	some pod in k8s.pods
	some i, volume in object.get(pod.spec, "volumes", [])
	volume.hostPath
	msg := sprintf("%s: volume \"%s\" mounts hostPath %s from the node", [k8s.subject, volume.name, host_path_of(volume)])
}

host_path_of(volume) := value if {
	value := volume.hostPath.path
	is_string(value)
} else := "(no path)"
