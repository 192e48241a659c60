# Production runs exactly the image that was tested: images are pinned by sha256 digest.
package main

import rego.v1

import data.lib.images
import data.lib.k8s

# METADATA
# title: Production images are pinned by digest
# description: Production runs exactly the image that was tested, so every image is pinned by its sha256 digest.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_digest contains k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	k8s.is_production
	some entry in k8s.containers
	not images.pinned_by_digest(entry.container.image)
	msg := sprintf("%s: container \"%s\" image \"%s\" is not pinned by digest in production namespace %s", [k8s.subject, k8s.container_name(entry.container), entry.container.image, k8s.namespace])
}
