# Images come only from the registries in data.gitops.allowed_registries.
package main

import rego.v1

# METADATA
# title: Images come from the allowed registries
# description: Every image comes from one of the registries listed in data.gitops.allowed_registries.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_registry contains data.lib.k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	some entry in data.lib.k8s.containers
	image := entry.container.image
	not allowed_registry(image)
	msg := sprintf("%s: container \"%s\" image \"%s\" is not from an allowed registry %v", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), image, data.gitops.allowed_registries])
}

allowed_registry(image) if {
	some prefix in data.gitops.allowed_registries
	startswith(image, prefix)
}
