"""A Prometheus that cannot start says why, even when it ran in a temporary folder of its own."""

from __future__ import annotations

import pytest

from tools.rehearsal.prometheus import HarnessError, PrometheusServer


def test_failed_start_reports_the_prometheus_log() -> None:
    server = PrometheusServer(scrape_interval="bogus")  # workdir=None: a temporary folder
    with pytest.raises(HarnessError) as raised:
        server.start(timeout=30)
    message = str(raised.value)
    assert message.startswith("prometheus did not start; log:")
    assert 'not a valid duration string: \\"bogus\\"' in message
    assert not server.workdir.exists()  # and the temporary folder is still cleaned up
