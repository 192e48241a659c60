# Production runs exactly the image that was tested: images are pinned by sha256 digest.
package main

import rego.v1

# METADATA
# title: Production images are pinned by digest
# description: Production runs exactly the image that was tested, so every image is pinned by its sha256 digest.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_image_digest contains data.lib.k8s.result(msg, sprintf("%s.image", [entry.path])) if {
	data.lib.k8s.is_production
	some entry in data.lib.k8s.containers
	not data.lib.images.pinned_by_digest(entry.container.image)
	msg := sprintf("%s: container \"%s\" image \"%s\" is not pinned by digest in production namespace %s", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), entry.container.image, data.lib.k8s.namespace])
}
