# Images must name a version: no ":latest", no bare name without tag or digest.
package main

import rego.v1

import data.lib.images
import data.lib.k8s

# METADATA
# title: Images name a version
# description: No latest tag and no bare image name without a tag or digest.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_tag contains k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	some entry in k8s.containers
	image := entry.container.image
	images.tag(image) == "latest"
	not images.pinned_by_digest(image)
	msg := sprintf("%s: container \"%s\" image \"%s\" uses the mutable tag latest; pin a version or digest", [k8s.subject, k8s.container_name(entry.container), image])
}

# METADATA
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_tag contains k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	some entry in k8s.containers
	image := entry.container.image
	not images.tag(image)
	not images.pinned_by_digest(image)
	msg := sprintf("%s: container \"%s\" image \"%s\" has no tag or digest; pin a version or digest", [k8s.subject, k8s.container_name(entry.container), image])
}
