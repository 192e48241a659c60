package main

import rego.v1

secret_env_pod(env) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "env": env}]}}

secret_env_from_ref := secret_env_pod([
	{"name": "LOG_LEVEL", "value": "info"},
	{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
])

secret_env_file_path := secret_env_pod([{"name": "API_TOKEN_FILE", "value": "/var/run/secrets/api/token"}])

secret_env_literal := secret_env_pod([{"name": "api_token", "value": "s3cr3t"}])

secret_with_data := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "data": {"password": "cGFzcw=="}}

secret_empty := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "placeholder"}}

test_secret_ref_allowed if {
	count(deny_plaintext_secret_env) == 0 with input as secret_env_from_ref
}

test_literal_token_denied if {
	deny_plaintext_secret_env == {{"msg": "Pod p: container \"c\" sets api_token to a literal value; use valueFrom.secretKeyRef", "path": "$.spec.containers[0].env[0].value"}} with input as secret_env_literal
}

test_secret_with_data_denied if {
	count(deny_secret_data) == 1 with input as secret_with_data
}

test_secret_without_data_allowed if {
	count(deny_secret_data) == 0 with input as secret_empty
}

test_token_file_path_allowed if {
	count(deny_plaintext_secret_env) == 0 with input as secret_env_file_path
}
