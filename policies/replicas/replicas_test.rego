package main

import rego.v1

replicas_deployment(namespace, replicas) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": namespace}, "spec": {"replicas": replicas}}

replicas_hpa(namespace, spec) := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": namespace}, "spec": spec}

replicas_production_three := replicas_deployment("model-api-production", 3)

replicas_production_one := replicas_deployment("model-api-production", 1)

replicas_staging_one := replicas_deployment("model-api-staging", 1)

replicas_hpa_production_low := replicas_hpa("model-api-production", {"minReplicas": 2, "maxReplicas": 10})

replicas_hpa_production_default := replicas_hpa("model-api-production", {"maxReplicas": 10})

replicas_hpa_production_ok := replicas_hpa("model-api-production", {"minReplicas": 3, "maxReplicas": 10})

test_three_replicas_allowed if {
	count(deny_production_replicas) == 0 with input as replicas_production_three
}

test_one_replica_in_production_denied if {
	deny_production_replicas == {{"msg": "Deployment d: 1 replicas in production namespace model-api-production; run at least 3", "path": "$.spec.replicas"}} with input as replicas_production_one
}

test_one_replica_in_staging_allowed if {
	count(deny_production_replicas) == 0 with input as replicas_staging_one
}

test_hpa_min_two_denied if {
	count(deny_production_replicas) == 1 with input as replicas_hpa_production_low
}

test_hpa_default_min_denied if {
	count(deny_production_replicas) == 1 with input as replicas_hpa_production_default
}

test_hpa_min_three_allowed if {
	count(deny_production_replicas) == 0 with input as replicas_hpa_production_ok
}
