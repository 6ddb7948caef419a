"""The project's own endpoints."""

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    expected_redis = "ok" if settings.REDIS_URL else "not_used"
    assert response.json() == {"status": "ok", "database": "ok", "redis": expected_redis}
    assert response["X-Correlation-ID"]
