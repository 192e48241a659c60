# Pods must not share the node's network, PID or IPC namespace.
package main

import rego.v1

import data.lib.k8s

# METADATA
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout, WorkflowTemplate, CronWorkflow]
deny_host_namespaces contains k8s.result(msg, sprintf("%s.%s", [pod.path, field])) if {
	some pod in k8s.pods
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	object.get(pod.spec, field, false) == true
	msg := sprintf("%s: %s: true shares the node's namespace", [k8s.subject, field])
}
