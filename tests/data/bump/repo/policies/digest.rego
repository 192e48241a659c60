# The fixture's one policy, the rule the real policies enforce too: production pins digests.
package main

import rego.v1

deny_unpinned_production_image contains msg if {
	input.kind == "Deployment"
	input.metadata.namespace == "model-api-production"
	some container in input.spec.template.spec.containers
	not contains(container.image, "@sha256:")
	msg := sprintf("Deployment %s: container %s image %s is not pinned by digest", [input.metadata.name, container.name, container.image])
}
