"""Run Argo Rollouts AnalysisTemplates locally with the controller's semantics.

``template`` loads and resolves templates, ``prometheus`` takes measurements, ``conditions``
and ``expr`` evaluate success/failure conditions, ``run`` schedules and assesses, ``report``
renders the outcome.
"""
