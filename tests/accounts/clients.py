"""Logging in and calling the API with a token, for the accounts tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

URL = "/api/auth/token/"
LOGOUT = "/api/auth/logout/"
LIST = "/api/workspaces/"
# What a 401 answers in WWW-Authenticate: the two schemes a token is accepted with.
CHALLENGE = 'Token, Bearer realm="api"'


def login(client: APIClient, password: str, username: str = "alice") -> Any:
    """POST credentials as JSON."""
    return client.post(URL, {"username": username, "password": password}, format="json")


def token_of(password: str = "alice-password") -> str:
    response = login(APIClient(), password)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def api(token: str, scheme: str = "Token") -> APIClient:
    """A client that sends `Authorization: <scheme> <token>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client


def status_with(token: str) -> int:
    return int(api(token).get(LIST).status_code)
