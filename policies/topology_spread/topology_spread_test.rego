package main

import rego.v1

spread_rollout(namespace, constraints) := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r", "namespace": namespace}, "spec": {"template": {"spec": {"containers": [{"name": "c"}], "topologySpreadConstraints": constraints}}}}

spread_zone := [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]

spread_host_only := [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}]

spread_production_zone := spread_rollout("model-api-production", spread_zone)

spread_production_host := spread_rollout("model-api-production", spread_host_only)

spread_staging_host := spread_rollout("model-api-staging", spread_host_only)

test_zone_spread_allowed if {
	count(deny_topology_spread) + count(warn_topology_spread) == 0 with input as spread_production_zone
}

test_production_without_zone_spread_denied if {
	count(deny_topology_spread) == 1 with input as spread_production_host
}

test_staging_without_zone_spread_warns if {
	result := {"deny": count(deny_topology_spread), "warn": count(warn_topology_spread)} with input as spread_staging_host
	result == {"deny": 0, "warn": 1}
}
