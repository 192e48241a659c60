package main

import rego.v1

image_tag_pod(image) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}}

image_tag_versioned := image_tag_pod("ghcr.io/example-org/app:1.4.2")

image_tag_digest := image_tag_pod("ghcr.io/example-org/app@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")

image_tag_latest := image_tag_pod("ghcr.io/example-org/app:latest")

image_tag_bare := image_tag_pod("ghcr.io/example-org/app")

test_version_tag_allowed if {
	count(deny_image_tag) == 0 with input as image_tag_versioned
}

test_digest_allowed if {
	count(deny_image_tag) == 0 with input as image_tag_digest
}

test_latest_denied if {
	deny_image_tag == {{"msg": "Pod p: container \"c\" image \"ghcr.io/example-org/app:latest\" uses the mutable tag latest; pin a version or digest", "path": "$.spec.containers[0].image"}} with input as image_tag_latest
}

test_untagged_denied if {
	count(deny_image_tag) == 1 with input as image_tag_bare
}
