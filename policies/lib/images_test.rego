package lib.images_test

import rego.v1

import data.lib.images

test_tag_after_registry_port if {
	images.tag("registry.local:5000/team/app:1.2.3") == "1.2.3"
}

test_no_tag if {
	not images.tag("registry.local:5000/team/app")
}

test_digest if {
	images.pinned_by_digest("ghcr.io/o/app:1.0@sha256:abc")
	images.tag("ghcr.io/o/app:1.0@sha256:abc") == "1.0"
}

test_no_digest if {
	not images.pinned_by_digest("ghcr.io/o/app:1.0")
}
