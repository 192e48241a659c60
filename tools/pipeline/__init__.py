"""The training pipeline: train → evaluate → register → build-image → open-pr.

The step functions live in :mod:`tools.pipeline.steps` and run both in process
(``gitops pipeline run --local``) and as container entrypoints on Argo Workflows
(``python -m tools.pipeline.steps <step>``); :mod:`tools.pipeline.local` chains them for the
local run. :mod:`tools.pipeline.workflow` defines the ``WorkflowTemplate`` and ``CronWorkflow``
with Hera; :mod:`tools.pipeline.render` writes them to ``base/training/`` and checks the
committed copies.
"""
