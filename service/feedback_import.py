"""``model-api feedback import FILE``: back-fill ground truth from a CSV through the API.

The CSV has a header and one line per labelled row: ``prediction_id,row,label`` (``row`` is the
row's index in its request, from 0). Lines are grouped by prediction id and each group is sent
as one ``POST /feedback`` to a running API, so the labels are validated and counted exactly as
live feedback is (any replica joins; a prediction labelled before counts once). A prediction
whose rows are not all present (0 .. n-1, each once) is reported and not sent.
"""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("prediction_id", "row", "label")
TIMEOUT_SECONDS = 30.0


class ImportError_(Exception):
    """The file cannot be imported at all; the message says why."""


@dataclass
class ImportReport:
    counted: int = 0  # predictions whose labels were joined and counted now
    already: int = 0  # predictions that had their labels before (nothing counted)
    problems: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_groups(path: Path) -> tuple[dict[str, list[int]], list[str]]:
    """Labels per prediction id in row order, and the problems of the lines that do not fit."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ImportError_(f"cannot read {path}: {exc.strerror}") from None
    rows: dict[str, dict[int, int]] = {}
    problems: list[str] = []
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
            raise ImportError_(f"{path}: the header must name the columns {', '.join(COLUMNS)}")
        try:
            for line in reader:
                where = f"{path}:{reader.line_num}"
                try:
                    prediction_id = (line["prediction_id"] or "").strip()
                    row, label = int(line["row"] or ""), int(line["label"] or "")
                except ValueError:
                    problems.append(f"{where}: row and label must be integers")
                    continue
                if not prediction_id or row < 0:
                    problems.append(f"{where}: needs a prediction_id and a row >= 0")
                    continue
                labels = rows.setdefault(prediction_id, {})
                if row in labels:
                    problems.append(f"{where}: row {row} of {prediction_id} given twice")
                    continue
                labels[row] = label
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportError_(f"{path}: not a readable CSV file: {exc}") from None
    groups: dict[str, list[int]] = {}
    for prediction_id, labels in rows.items():
        if sorted(labels) != list(range(len(labels))):
            problems.append(
                f"{prediction_id}: rows {sorted(labels)} are not 0..{len(labels) - 1}; not sent"
            )
            continue
        groups[prediction_id] = [labels[i] for i in range(len(labels))]
    return groups, problems


def send(
    url: str, groups: dict[str, list[int]], token: str | None
) -> Iterator[tuple[str, int, str]]:
    """POST each group to ``url``/feedback: (prediction id, status, message or body)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    for prediction_id, labels in groups.items():
        body = json.dumps({"prediction_id": prediction_id, "labels": labels}).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            f"{url.rstrip('/')}/feedback", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                yield prediction_id, answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            yield prediction_id, error.code, _message(error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ImportError_(f"cannot reach {url}: {reason}") from None


def import_file(path: Path, url: str, token: str | None = None) -> ImportReport:
    groups, problems = read_groups(path)
    report = ImportReport(problems=problems)
    for prediction_id, status, text in send(url, groups, token):
        report.statuses[status] += 1
        if status == 202:
            counted = json.loads(text).get("counted") is True
            if counted:
                report.counted += 1
            else:
                report.already += 1
        else:
            report.problems.append(f"{prediction_id}: {status} {text}")
    return report


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:200]
