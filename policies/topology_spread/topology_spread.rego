# Production workloads spread their pods over zones (topologySpreadConstraints on
# topology.kubernetes.io/zone); elsewhere a missing spread is only a warning.
package main

import rego.v1

zone_key := "topology.kubernetes.io/zone"

spreads_over_zones(pod) if {
	some constraint in object.get(pod.spec, "topologySpreadConstraints", [])
	constraint.topologyKey == zone_key
}

# METADATA
# title: Production pods spread over zones
# description: Production workloads spread their pods over zones with topologySpreadConstraints on topology.kubernetes.io/zone.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
# custom:
#   kinds: [Deployment, StatefulSet, Rollout]
deny_topology_spread contains data.lib.k8s.result(msg, pod.path) if {
	data.lib.k8s.is_production
	some pod in data.lib.k8s.service_pods
	not spreads_over_zones(pod)
	msg := sprintf("%s: pods are not spread over zones in production namespace %s (add a topologySpreadConstraint on %s)", [data.lib.k8s.subject, data.lib.k8s.namespace, zone_key])
}

# METADATA
# title: Pods spread over zones
# description: Workloads outside production should spread their pods over zones too; a missing spread is a warning.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
# custom:
#   kinds: [Deployment, StatefulSet, Rollout]
warn_topology_spread contains data.lib.k8s.result(msg, pod.path) if {
	not data.lib.k8s.is_production
	some pod in data.lib.k8s.service_pods
	not spreads_over_zones(pod)
	msg := sprintf("%s: pods are not spread over zones (no topologySpreadConstraint on %s)", [data.lib.k8s.subject, zone_key])
}
