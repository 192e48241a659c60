package main

import rego.v1

deployment(image) := {
	"kind": "Deployment",
	"metadata": {"name": "model-api", "namespace": "model-api-production"},
	"spec": {"template": {"spec": {"containers": [{"name": "api", "image": image}]}}},
}

test_tag_is_denied if {
	count(deny_unpinned_production_image) == 1 with input as deployment("ghcr.io/example-org/model-api:1.0")
}

test_digest_is_allowed if {
	count(deny_unpinned_production_image) == 0 with input as deployment("ghcr.io/example-org/model-api@sha256:00")
}
