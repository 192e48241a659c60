package main

import rego.v1

tls_ingress(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}, "spec": spec}

tls_rule(host) := {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}

tls_covered := tls_ingress({"tls": [{"hosts": ["api.example.com"], "secretName": "api-tls"}], "rules": [tls_rule("api.example.com")]})

tls_missing := tls_ingress({"rules": [tls_rule("api.example.com")]})

tls_other_host := tls_ingress({"tls": [{"hosts": ["api.example.com"], "secretName": "api-tls"}], "rules": [tls_rule("api.example.com"), tls_rule("admin.example.com")]})

test_tls_allowed if {
	count(deny_ingress_tls) == 0 with input as tls_covered
}

test_no_tls_denied if {
	deny_ingress_tls == {{"msg": "Ingress web: has no spec.tls; serve it over HTTPS", "path": "$.spec"}} with input as tls_missing
}

test_uncovered_host_denied if {
	deny_ingress_tls == {{"msg": "Ingress web: host admin.example.com is not covered by spec.tls", "path": "$.spec.rules[1].host"}} with input as tls_other_host
}
