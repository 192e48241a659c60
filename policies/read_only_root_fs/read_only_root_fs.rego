# Containers must mount their root filesystem read-only.
package main

import rego.v1

# METADATA
# title: Read-only root file systems
# description: Containers mount their root file system read-only.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_writable_root_fs contains data.lib.k8s.result(msg, entry.path) if {
	some entry in data.lib.k8s.containers
	not object.get(entry.container, ["securityContext", "readOnlyRootFilesystem"], false) == true
	msg := sprintf("%s: container \"%s\" must set securityContext.readOnlyRootFilesystem: true", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container)])
}
