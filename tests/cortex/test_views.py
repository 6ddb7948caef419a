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


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/errors/client.js", "text/javascript; charset=utf-8"),
        ("/static/console/console.js", "text/javascript; charset=utf-8"),
        ("/static/errors/client.d.ts", "text/plain; charset=utf-8"),
        ("/static/eventstream/stream.js", "text/javascript; charset=utf-8"),
        ("/static/eventstream/stream.d.ts", "text/plain; charset=utf-8"),
        ("/static/console/console.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_of_the_apps_are_served_and_revalidated(
    client: Client, path: str, content_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Cache-Control"] == "no-cache"
    name = path.removeprefix("/static/")
    assert (
        response.content == (settings.BASE_DIR / name.split("/")[0] / "static" / name).read_bytes()
    )

    again = client.get(path, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("path", ["/static/errors/nothing.js", "/static/other/x"])
def test_anything_else_under_static_is_a_404_envelope(client: Client, path: str) -> None:
    response = client.get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_path_out_of_the_static_folders_is_a_400(client: Client) -> None:
    response = client.get("/static/errors/../../cortex/settings.py", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert b"SECRET_KEY" not in response.content
