package lib.images_test

import rego.v1

test_tag_after_registry_port if {
	data.lib.images.tag("registry.local:5000/team/app:1.2.3") == "1.2.3"
}

test_no_tag if {
	not data.lib.images.tag("registry.local:5000/team/app")
}

test_digest if {
	data.lib.images.pinned_by_digest("ghcr.io/o/app:1.0@sha256:abc")
	data.lib.images.tag("ghcr.io/o/app:1.0@sha256:abc") == "1.0"
}

test_no_digest if {
	not data.lib.images.pinned_by_digest("ghcr.io/o/app:1.0")
}
