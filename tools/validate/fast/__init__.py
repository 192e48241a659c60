"""What makes ``gitops validate`` fast without changing what it finds.

* :mod:`.parallel`: manifest parsing and policy evaluation over worker processes;
* :mod:`.policycache`: policy results cached by object content across runs;
* :mod:`.regofast`: the two regopy calls made per object, straight into rego-cpp's C API.

Each has a test that the results are exactly those of the plain path (one process, no cache,
regopy's public API); the checks that decide findings are in :mod:`tools.validate.checks`.
"""
