"""The list's pagination: DRF's links from a page its caller reads, and its parameters validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from workspaces.pagination import ValidatedLimitOffsetPagination

URL = "http://testserver/api/workspaces/"


@dataclass
class FakePage:
    items: list[int]
    count: int


def request(query: str) -> Request:
    return Request(APIRequestFactory().get(f"/api/workspaces/{query}"))


def paginate(query: str, count: int) -> tuple[ValidatedLimitOffsetPagination, list[Any]]:
    """Paginate a list of `count` integers; returns the paginator and what `fetch` was asked."""
    asked: list[Any] = []

    def fetch(*, limit: int, offset: int) -> FakePage:
        asked.append((limit, offset))
        return FakePage(list(range(count))[offset : offset + limit], count)

    paginator = ValidatedLimitOffsetPagination()
    paginator.paginate(request(query), fetch)
    return paginator, asked


@pytest.mark.parametrize(
    ("query", "count", "asked", "next_url", "previous_url"),
    [
        ("", 5, (20, 0), None, None),
        ("?limit=2", 5, (2, 0), f"{URL}?limit=2&offset=2", None),
        ("?limit=2&offset=2", 5, (2, 2), f"{URL}?limit=2&offset=4", f"{URL}?limit=2"),
        ("?limit=2&offset=4", 5, (2, 4), None, f"{URL}?limit=2&offset=2"),
        ("?offset=1", 5, (20, 1), None, f"{URL}?limit=20"),
        ("?limit=2&offset=9", 5, (2, 9), None, f"{URL}?limit=2&offset=7"),
        ("?limit=100&x=1", 150, (100, 0), f"{URL}?limit=100&offset=100&x=1", None),
        ("?limit=1", 0, (1, 0), None, None),
    ],
)
def test_links_follow_drf_limit_offset(
    query: str, count: int, asked: tuple[int, int], next_url: str | None, previous_url: str | None
) -> None:
    paginator, calls = paginate(query, count)
    assert calls == [asked]
    response = paginator.get_paginated_response(["page"])
    assert response.data == {
        "count": count,
        "next": next_url,
        "previous": previous_url,
        "results": ["page"],
    }


@pytest.mark.parametrize(
    ("query", "field_errors"),
    [
        ("?limit=0", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("?limit=101", {"limit": ["Ensure this value is less than or equal to 100."]}),
        ("?limit=x", {"limit": ["A valid integer is required."]}),
        ("?limit=", {"limit": ["A valid integer is required."]}),
        ("?offset=-1", {"offset": ["Ensure this value is greater than or equal to 0."]}),
        (
            "?limit=0&offset=-1",
            {
                "limit": ["Ensure this value is greater than or equal to 1."],
                "offset": ["Ensure this value is greater than or equal to 0."],
            },
        ),
    ],
)
def test_a_bad_parameter_is_a_validation_error_before_anything_is_read(
    query: str, field_errors: dict[str, list[str]]
) -> None:
    with pytest.raises(ValidationError) as raised:
        paginate(query, 5)
    assert raised.value.detail == field_errors


def test_drf_hooks_validate_too() -> None:
    paginator = ValidatedLimitOffsetPagination()
    assert paginator.get_limit(request("?limit=7")) == 7
    assert paginator.get_offset(request("?offset=3")) == 3
    assert paginator.get_limit(request("")) == 20
    with pytest.raises(ValidationError):
        paginator.get_limit(request("?limit=500"))
