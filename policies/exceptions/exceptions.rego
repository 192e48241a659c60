# conftest-style exceptions: an object may opt out of named rules with the annotation
#   policy.gitops.example.org/exempt: "image_registry,writable_root_fs"
# (rule names without their deny_/warn_ prefix) if it also says why in
#   policy.gitops.example.org/exempt-reason: "..."
package main

import rego.v1

exempt_annotation := "policy.gitops.example.org/exempt"

reason_annotation := "policy.gitops.example.org/exempt-reason"

exception contains rules if {
	annotations := input.metadata.annotations
	annotations[exempt_annotation]
	count(trim_space(object.get(annotations, reason_annotation, ""))) > 0
	rules := [trim_space(rule) | some rule in split(annotations[exempt_annotation], ",")]
}

# METADATA
# title: An exemption says why
# description: An object that opts out of policy rules with the exempt annotation also gives the reason in its reason annotation.
deny_exemption_reason contains {"msg": msg, "path": "$.metadata.annotations"} if {
	annotations := input.metadata.annotations
	annotations[exempt_annotation]
	count(trim_space(object.get(annotations, reason_annotation, ""))) == 0
	msg := sprintf("%s %s: %s needs a %s annotation", [input.kind, input.metadata.name, exempt_annotation, reason_annotation])
}
