# Nothing in git is a secret: no Secret objects with data, no secret-looking env values.
package main

import rego.v1

# METADATA
# title: No Secret data in git
# description: Nothing in git is a secret. Secret objects carry no data; secrets arrive through ExternalSecrets.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   kinds: [Secret]
deny_secret_data contains data.lib.k8s.result(msg, sprintf("$.%s", [field])) if {
	input.kind == "Secret"
	some field in ["data", "stringData"]
	count(object.get(input, field, {})) > 0
	msg := sprintf("%s: holds %s in git; deliver it with an ExternalSecret instead", [data.lib.k8s.subject, field])
}

# METADATA
# title: No secret values in environment variables
# description: Secret-looking environment variables come from a Secret (valueFrom.secretKeyRef), never a literal value.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   kinds: [data.gitops.pod_kinds, data.gitops.workflow_kinds]
deny_plaintext_secret_env contains data.lib.k8s.result(msg, sprintf("%s.env[%d].value", [entry.path, i])) if {
	some entry in data.lib.k8s.containers
	some i, env in object.get(entry.container, "env", [])
	regex.match(data.gitops.secret_env_pattern, lower(env.name))
	not names_a_reference(env.name)
	is_string(env.value)
	env.value != ""
	msg := sprintf("%s: container \"%s\" sets %s to a literal value; use valueFrom.secretKeyRef", [data.lib.k8s.subject, data.lib.k8s.container_name(entry.container), env.name])
}

names_a_reference(name) if {
	some suffix in data.gitops.secret_env_reference_suffixes
	endswith(lower(name), suffix)
}
