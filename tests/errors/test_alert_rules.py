"""deploy/prometheus/alerts.yml only uses metrics that /metrics really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import IN_CI

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
# A metric name in PromQL is an identifier followed by a selector `{…}` or a range `[…]`.
METRIC_IN_EXPR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{\[])")


def rule_metrics() -> set[str]:
    text = RULES.read_text()
    expressions = re.findall(r"expr: \|\n((?:\s{10}.*\n)+)|expr: (.*)\n", text)
    names = set()
    for block, line in expressions:
        names.update(METRIC_IN_EXPR.findall(block or line))
    return names


@pytest.mark.django_db
def test_every_metric_of_the_rules_is_exported() -> None:
    client = Client(raise_request_exception=False)
    client.get("/t/drf/ok")
    client.get("/t/drf/raise/internal")
    exported: set[str] = set()
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        exported.update(sample.name for sample in family.samples)
    used = rule_metrics()
    assert used >= {"http_requests_total", "errors_handled_total", "errors_alerts_total"}
    assert used - exported == set()


def test_promtool_accepts_the_rules() -> None:
    if shutil.which("promtool") is None:
        if IN_CI:
            pytest.fail("promtool is required under CI (Debian package prometheus)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# promtool's rule unit tests: overload pages nobody as an error; a real failure still does.
RULE_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total{{method="GET", route="/api/workspaces/", status="200"}}'
        values: '0+600x20'
      - series: 'http_requests_total{{method="GET", route="/api/workspaces/", status="503"}}'
        values: '0+300x20'
      - series: 'errors_handled_total{{code="service_busy", status="503"}}'
        values: '0+300x20'
    alert_rule_test:
      - {{eval_time: 15m, alertname: CortexHighErrorRatio, exp_alerts: []}}
      - {{eval_time: 15m, alertname: CortexServerErrors, exp_alerts: []}}
      - eval_time: 15m
        alertname: CortexOverloaded
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: Requests wait longer than REQUEST_QUEUE_TIMEOUT for their turn
              description: "5 requests/s answer 503 service_busy; add capacity."
  - interval: 1m
    input_series:
      - series: 'http_requests_total{{method="GET", route="/api/workspaces/", status="503"}}'
        values: '0+300x20'
      - series: 'errors_handled_total{{code="db_connection_error", status="503"}}'
        values: '0+300x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: CortexHighErrorRatio
        exp_alerts:
          - exp_labels: {{severity: critical}}
            exp_annotations:
              summary: More than 5% of requests fail with a 5xx
              description: "100% of requests answered 5xx over 5 minutes."
      - {{eval_time: 15m, alertname: CortexOverloaded, exp_alerts: []}}
"""


def test_overload_raises_its_own_warning_and_no_error_alert(tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        if IN_CI:
            pytest.fail("promtool is required under CI (Debian package prometheus)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(RULE_TESTS.format(rules=RULES))
    result = subprocess.run(
        ["promtool", "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
