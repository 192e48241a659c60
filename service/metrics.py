"""Prometheus metric names of the model API — a public API.

The AnalysisTemplates in rollouts/, the alert and recording rules and the Grafana dashboards
query these names (documented in docs/METRICS.md). Renaming one is a breaking change:
tests/service/test_metric_names.py fails when a name here and its users drift apart.
"""

from __future__ import annotations

PREFIX = "model_api"

# Counter {route, method, status}: HTTP requests answered (status is the numeric code as text).
REQUESTS_TOTAL = "model_api_requests_total"
# Histogram {route, method, status}: request latency in seconds, handler entry to response end.
REQUEST_DURATION_SECONDS = "model_api_request_duration_seconds"
# Gauge: requests being handled right now.
REQUESTS_IN_FLIGHT = "model_api_requests_in_flight"
# Counter {model_version}: rows predicted (a batch of 100 rows adds 100).
PREDICTIONS_TOTAL = "model_api_predictions_total"
# Histogram {model_version}: predicted probability of the positive class, one observation per row.
PREDICTION_PROBABILITY = "model_api_prediction_probability"
# Gauge {name, version, alias, run_id}: 1 for the model being served.
MODEL_INFO = "model_api_model_info"
# Gauge: 1 once the model is loaded and the warm-up prediction succeeded, else 0.
MODEL_LOADED = "model_api_model_loaded"

# Model quality (docs/MONITORING.md). Feedback counters are counted by the replica that joined
# the labels, under the version that made the prediction: sum() over pods is the fleet's figure.
# Counter {model_version}: predicted rows that received their true label through POST /feedback.
FEEDBACK_TOTAL = "model_api_feedback_total"
# Counter {model_version}: labelled rows whose predicted label was the true one.
FEEDBACK_CORRECT_TOTAL = "model_api_feedback_correct_total"
# Counter {model_version, predicted, actual}: labelled rows by predicted and true label.
FEEDBACK_CONFUSION_TOTAL = "model_api_feedback_confusion_total"
# Counter: predictions not written to the prediction log (its queue was full).
PREDICTION_LOG_DROPPED_TOTAL = "model_api_prediction_log_dropped_total"
# Gauge {feature}: PSI of the feature over the last MODEL_API_DRIFT_WINDOW rows vs training.
FEATURE_PSI = "model_api_feature_psi"
# Gauge {model_version}: validation accuracy of the served version at training time.
TRAINING_ACCURACY = "model_api_training_accuracy"

# Bucket boundaries (seconds) chosen around the 500 ms p95 SLO.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Ten equal-width probability buckets: the drift analysis compares canary and stable shares.
PROBABILITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
