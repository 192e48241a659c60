"""Training: fit and evaluate the model (:mod:`training.train`), export it to ONNX
(:mod:`training.onnx_export`), and the one gate + register policy (:mod:`training.policy`) that
``model-api train``, ``gitops pipeline run --local`` and the pipeline steps all apply.

Needs the ``train`` extra (mlflow, scikit-learn, pandas, skl2onnx); the serving image does not
hold this package. It depends on :mod:`service` only for the model format serving reads
(:mod:`service.onnx_runtime`) and where the registry lives (:mod:`service.registry`).
"""
