package main

import rego.v1

hpa_bounds(spec) := {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}, "spec": spec}

hpa_bounds_ok := hpa_bounds({"minReplicas": 3, "maxReplicas": 10})

hpa_bounds_equal := hpa_bounds({"minReplicas": 3, "maxReplicas": 3})

hpa_bounds_inverted := hpa_bounds({"minReplicas": 5, "maxReplicas": 2})

test_max_above_min_allowed if {
	count(deny_hpa_bounds) == 0 with input as hpa_bounds_ok
}

test_max_equal_min_allowed if {
	count(deny_hpa_bounds) == 0 with input as hpa_bounds_equal
}

test_max_below_min_denied if {
	deny_hpa_bounds == {{"msg": "HorizontalPodAutoscaler h: maxReplicas 2 is below minReplicas 5", "path": "$.spec.maxReplicas"}} with input as hpa_bounds_inverted
}
