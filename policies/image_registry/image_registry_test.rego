package main

import rego.v1

registry_pod(image) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}}

registry_ours := registry_pod("ghcr.io/example-org/model-api:1.0.0")

registry_docker_hub := registry_pod("nginx:1.27")

registry_lookalike := registry_pod("ghcr.io/example-org-evil/model-api:1.0.0")

test_own_registry_allowed if {
	count(deny_image_registry) == 0 with input as registry_ours
}

test_docker_hub_denied if {
	some result in deny_image_registry with input as registry_docker_hub
	contains(result.msg, "image \"nginx:1.27\" is not from an allowed registry [\"ghcr.io/example-org/\"]")
}

test_lookalike_org_denied if {
	count(deny_image_registry) == 1 with input as registry_lookalike
}
