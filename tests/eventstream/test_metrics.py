"""`eventstream.metrics`: the `sse_open_streams` gauge (real streams: test_consumers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client import CollectorRegistry, multiprocess

from eventstream import metrics
from tests.support.servers import REPO_ROOT

pytestmark = pytest.mark.django_db


def test_metrics_lists_the_gauge_before_any_stream_opened(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE sse_open_streams gauge" in response.content.decode()


def test_monitoring_off_means_no_gauge(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.ERRORS_ENABLE_MONITORING = False
    monkeypatch.setattr(metrics, "_gauge", None)
    metrics.stream_opened()
    metrics.stream_closed()
    assert metrics.open_streams() is None


def test_worker_processes_count_their_streams_into_one_live_sum(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # A worker that opened three streams and closed one, as the service's processes do.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django\n"
            "django.setup()\n"
            "from eventstream.metrics import stream_closed, stream_opened\n"
            "stream_opened(); stream_opened(); stream_opened(); stream_closed()\n",
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
        },
        check=True,
        timeout=120,
    )
    assert [p.name for p in directory.iterdir() if p.name.startswith("gauge_livesum_")]
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    assert registry.get_sample_value("sse_open_streams") == 2
