"""The ``gitops`` command line: validate, bump, promote, diff, analyze, rehearse, pipeline."""
