"""The workspaces API in the client's language: LocaleMiddleware picks it from Accept-Language.

The service's own messages come from locale/, DRF's from DRF's catalogs; `code`, the `details`
keys and field paths stay as they are in every language.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.workspaces.test_api import LIST, detail, error

pytestmark = pytest.mark.django_db


def test_not_found_in_spanish(api: APIClient) -> None:
    response: Any = api.get(detail(uuid.uuid4()), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert response.status_code == 404
    assert response["Content-Language"] == "es"
    assert "Accept-Language" in response["Vary"]
    body = error(response)
    assert body["code"] == "not_found"
    assert body["message"] == "No se encontró el espacio de trabajo"
    assert body["details"]["resource_type"] == "workspace"


def test_field_errors_in_german_with_the_same_paths(api: APIClient) -> None:
    response: Any = api.post(
        LIST,
        {"name": "   ", "metadata": {"n": 10**30, "ok": [1, {"bad": "\x00"}]}},
        format="json",
        HTTP_ACCEPT_LANGUAGE="de",
    )

    assert response.status_code == 400
    assert response["Content-Language"] == "de"
    fields = error(response)["details"]["field_errors"]
    assert fields == {
        "name": ["Dieses Feld darf nicht leer sein."],
        "metadata.n": [
            "Stellen Sie sicher, dass diese Zahl zwischen -9223372036854775808 und "
            "9223372036854775807 liegt."
        ],
        "metadata.ok.1.bad": ["Nullzeichen sind nicht erlaubt."],
    }


def test_the_name_conflict_in_french_names_the_name(api: APIClient) -> None:
    api.post(LIST, {"name": "Alpha"}, format="json")

    response: Any = api.post(LIST, {"name": "alpha"}, format="json", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 409
    assert response["Content-Language"] == "fr"
    body = error(response)
    assert body["code"] == "workspace_name_conflict"
    assert body["message"] == "Un espace de travail nommé « alpha » existe déjà"
    assert body["details"] == {"name": "alpha"}


@pytest.mark.parametrize("asked", ["", "pt-BR,pt;q=0.9", "*"])
def test_a_language_the_service_does_not_speak_gets_english(api: APIClient, asked: str) -> None:
    response: Any = api.get(detail(uuid.uuid4()), HTTP_ACCEPT_LANGUAGE=asked)

    assert response["Content-Language"] == "en"
    assert error(response)["message"] == "Workspace not found"
