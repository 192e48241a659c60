"""HTTP endpoints, one module per protocol: they parse, call the data plane, shape the answer.

:mod:`service.routes.mlflow` (the MLflow scoring protocol), :mod:`service.routes.oip` (Open
Inference Protocol v2), :mod:`service.routes.ops` (metrics, error handlers); the pieces they
share (the direct route class, the bounded body reader, error responses) are in
:mod:`service.routes.http`.
"""
