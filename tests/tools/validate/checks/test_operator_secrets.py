"""Secrets the ECK operator creates count as defined for the objects that mount them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tools.validate import Report

ELASTIC = """\
apiVersion: elasticsearch.k8s.elastic.co/v1
kind: Elasticsearch
metadata:
  name: logs
  namespace: logging
  labels: {app.kubernetes.io/name: logs, app.kubernetes.io/part-of: mlops-platform}
spec:
  version: 9.4.3
  nodeSets:
    - name: default
      count: 1
---
apiVersion: kibana.k8s.elastic.co/v1
kind: Kibana
metadata:
  name: ui
  namespace: logging
  labels: {app.kubernetes.io/name: ui, app.kubernetes.io/part-of: mlops-platform}
spec:
  version: 9.4.3
  count: 1
  elasticsearchRef: {name: logs}
"""

JOB = """\
---
apiVersion: batch/v1
kind: Job
metadata:
  name: reader
  namespace: {namespace}
  labels: {{app.kubernetes.io/name: reader, app.kubernetes.io/part-of: mlops-platform}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: c
          image: ghcr.io/example-org/reader:1.0.0
      volumes:
        - name: password
          secret: {{secretName: {password}}}
        - name: ca
          secret: {{secretName: {ca}}}
"""


def _missing_secrets(validate: Callable[..., Report], tmp_path: Path, **job: str) -> set[str]:
    path = tmp_path / "manifest.yaml"
    path.write_text(ELASTIC + JOB.format(**job), encoding="utf-8")
    return {f.message for f in validate(path).errors if f.rule == "ref-secret"}


def test_eck_secrets_of_objects_in_the_namespace_are_defined(
    validate: Callable[..., Report], tmp_path: Path
) -> None:
    missing = _missing_secrets(
        validate,
        tmp_path,
        namespace="logging",
        password="logs-es-elastic-user",
        ca="ui-kb-http-certs-public",
    )
    assert missing == set()


def test_eck_secret_names_must_match_an_object_and_its_namespace(
    validate: Callable[..., Report], tmp_path: Path
) -> None:
    missing = _missing_secrets(
        validate,
        tmp_path,
        namespace="logging",
        password="other-es-elastic-user",  # no Elasticsearch named "other"
        ca="logs-kb-http-certs-public",  # "logs" is an Elasticsearch, not a Kibana
    )
    assert len(missing) == 2
    assert any("'other-es-elastic-user'" in m for m in missing)
    elsewhere = _missing_secrets(
        validate,
        tmp_path,
        namespace="monitoring",
        password="logs-es-elastic-user",
        ca="ui-kb-http-certs-public",
    )
    assert len(elsewhere) == 2
