# Ingresses serve TLS for every host they route.
package main

import rego.v1

tls_hosts contains host if {
	some entry in object.get(input.spec, "tls", [])
	some host in object.get(entry, "hosts", [])
}

# METADATA
# title: Ingresses serve TLS
# description: Every host an Ingress routes is covered by its TLS section.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   kinds: [Ingress]
deny_ingress_tls contains data.lib.k8s.result(msg, "$.spec") if {
	input.kind == "Ingress"
	count(object.get(input.spec, "tls", [])) == 0
	msg := sprintf("%s: has no spec.tls; serve it over HTTPS", [data.lib.k8s.subject])
}

# METADATA
# custom:
#   kinds: [Ingress]
deny_ingress_tls contains data.lib.k8s.result(msg, sprintf("$.spec.rules[%d].host", [i])) if {
	input.kind == "Ingress"
	count(object.get(input.spec, "tls", [])) > 0
	some i, rule in object.get(input.spec, "rules", [])
	rule.host
	not rule.host in tls_hosts
	msg := sprintf("%s: host %s is not covered by spec.tls", [data.lib.k8s.subject, rule.host])
}
