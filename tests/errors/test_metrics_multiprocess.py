"""Metrics of several worker processes sharing PROMETHEUS_MULTIPROC_DIR add up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from errors.metrics import forget_dead_processes
from tests.support.servers import DaphneServer, server_environment

ROOT = Path(__file__).resolve().parents[2]


def requests_total(text: str, route: str, status: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "http_requests_total"
                and labels.get("route") == route
                and labels.get("status") == status
            ):
                return sample.value
    return 0.0


def test_two_processes_are_counted_together_and_a_dead_one_still_counts(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=server_environment(env),
        check=True,
        timeout=120,
    )
    with DaphneServer(env=env) as first, DaphneServer(env=env) as second:
        baseline = requests_total(httpx.get(f"{first.url}/metrics").text, "healthz", "200")
        for _ in range(3):
            assert httpx.get(f"{first.url}/healthz").status_code == 200
        for _ in range(4):
            assert httpx.get(f"{second.url}/healthz").status_code == 200
        for _ in range(2):
            assert httpx.get(f"{second.url}/no/such/url").status_code == 404
        for server in (first, second):
            text = httpx.get(f"{server.url}/metrics").text
            assert requests_total(text, "healthz", "200") - baseline == 7
            assert requests_total(text, "<unmatched>", "404") == 2
        second.stop()
        # The stopped process's counts are history, still part of the totals.
        text = httpx.get(f"{first.url}/metrics").text
        assert requests_total(text, "healthz", "200") - baseline == 7
        assert requests_total(text, "<unmatched>", "404") == 2


def test_live_gauges_of_dead_processes_are_dropped(tmp_path: Path, monkeypatch: Any) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # A worker that had two streams open when it died, without a chance to clean up.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from prometheus_client import Gauge\n"
            "Gauge('sse_open_streams', 'x', multiprocess_mode='livesum').inc(2)\n",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        check=True,
        timeout=60,
    )
    assert [p.name for p in directory.iterdir() if p.name.startswith("gauge_livesum")]

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    forget_dead_processes()

    assert not [p for p in directory.iterdir() if p.name.startswith("gauge_livesum")]
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    assert registry.get_sample_value("sse_open_streams") in (None, 0.0)
