package main

import rego.v1

pdb(spec) := {"kind": "PodDisruptionBudget", "metadata": {"name": "b"}, "spec": spec}

pdb_max_one := pdb({"maxUnavailable": 1})

pdb_min_two := pdb({"minAvailable": 2})

pdb_max_zero := pdb({"maxUnavailable": 0})

pdb_min_all := pdb({"minAvailable": "100%"})

test_max_unavailable_one_allowed if {
	count(deny_pdb_blocks_disruption) == 0 with input as pdb_max_one
}

test_min_available_two_allowed if {
	count(deny_pdb_blocks_disruption) == 0 with input as pdb_min_two
}

test_max_unavailable_zero_denied if {
	count(deny_pdb_blocks_disruption) == 1 with input as pdb_max_zero
}

test_min_available_all_denied if {
	deny_pdb_blocks_disruption == {{"msg": "PodDisruptionBudget b: minAvailable 100% allows no disruption; node drains would block", "path": "$.spec.minAvailable"}} with input as pdb_min_all
}
