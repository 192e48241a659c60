package main

import rego.v1

digest_pod(namespace, image) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace}, "spec": {"containers": [{"name": "c", "image": image}]}}

digest_production_pinned := digest_pod("model-api-production", "ghcr.io/example-org/app:1.0@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")

digest_production_tag := digest_pod("model-api-production", "ghcr.io/example-org/app:1.0")

digest_staging_tag := digest_pod("model-api-staging", "ghcr.io/example-org/app:1.0")

test_pinned_in_production_allowed if {
	count(deny_image_digest) == 0 with input as digest_production_pinned
}

test_tag_in_production_denied if {
	count(deny_image_digest) == 1 with input as digest_production_tag
}

test_tag_in_staging_allowed if {
	count(deny_image_digest) == 0 with input as digest_staging_tag
}
