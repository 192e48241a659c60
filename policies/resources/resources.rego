# Containers declare CPU and memory requests and a memory limit (no CPU limit required: it
# only adds throttling).
package main

import rego.v1

required_resources := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

# METADATA
# title: Containers declare resources
# description: Containers declare CPU and memory requests and a memory limit.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_resources contains data.lib.k8s.result(msg, sprintf("%s.resources", [entry.path])) if {
	some entry in data.lib.k8s.containers
	some key in required_resources
	not entry.container.resources[key[0]][key[1]]
	msg := sprintf("%s: container \"%s\" has no resources.%s.%s", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), key[0], key[1]])
}
