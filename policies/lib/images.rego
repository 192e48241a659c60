# Image reference parsing shared by the image policies.
package lib.images

import rego.v1

digest(image) := d if {
	parts := split(image, "@")
	count(parts) == 2
	d := parts[1]
}

# The part before any digest.
name_and_tag(image) := split(image, "@")[0]

# The tag, if any: after the last ":" that comes after the last "/".
tag(image) := t if {
	ref := name_and_tag(image)
	segments := split(ref, "/")
	last := segments[count(segments) - 1]
	pieces := split(last, ":")
	count(pieces) == 2
	t := pieces[1]
}

pinned_by_digest(image) if startswith(digest(image), "sha256:")
