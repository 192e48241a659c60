# Images must name a version: no ":latest", no bare name without tag or digest.
package main

import rego.v1

# METADATA
# title: Images name a version
# description: No latest tag and no bare image name without a tag or digest.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_tag contains data.lib.k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	some entry in data.lib.k8s.containers
	image := entry.container.image
	data.lib.images.tag(image) == "latest"
	not data.lib.images.pinned_by_digest(image)
	msg := sprintf("%s: container \"%s\" image \"%s\" uses the mutable tag latest; pin a version or digest", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), image])
}

# METADATA
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_tag contains data.lib.k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	some entry in data.lib.k8s.containers
	image := entry.container.image
	not data.lib.images.tag(image)
	not data.lib.images.pinned_by_digest(image)
	msg := sprintf("%s: container \"%s\" image \"%s\" has no tag or digest; pin a version or digest", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), image])
}
