"""The model-serving API (MLflow scoring protocol + Open Inference Protocol v2) and its trainer."""
