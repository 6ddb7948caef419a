"""`safewrites.preconditions`: what If-Match and If-None-Match accept, and the 412 and 428."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from errors.handling import handle_exception
from safewrites.preconditions import (
    PreconditionFailed,
    PreconditionRequired,
    check,
    etag,
    expected_versions,
    not_modified,
)

factory = APIRequestFactory()


def request(method: str = "patch", **headers: str) -> Request:
    return Request(getattr(factory, method)("/r", **{f"HTTP_{k}": v for k, v in headers.items()}))


def test_an_etag_is_the_quoted_version() -> None:
    assert etag(3) == '"3"'


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        ('"3"', {3}),
        ('"3", "5"', {3, 5}),
        (' "3" ,"4" ', {3, 4}),
        ('W/"3"', set()),  # weak tags never match a write (RFC 9110's strong comparison)
        ("3", set()),  # not quoted
        ('"abc"', set()),  # not one of ours
        ('"١٢"', set()),  # Arabic-Indic digits: str.isdigit() but not ASCII
        ('"' + "9" * 19 + '"', set()),  # more than a 64-bit column holds
        ("", set()),
    ],
)
def test_if_match_gives_the_versions_it_names(header: str, versions: set[int]) -> None:
    assert expected_versions(request(IF_MATCH=header)) == versions


def test_no_if_match_or_a_star_accepts_any_version() -> None:
    assert expected_versions(request()) is None
    assert expected_versions(request(IF_MATCH="*")) is None
    assert expected_versions(request(IF_MATCH='"2", *')) is None


@override_settings(SAFEWRITES_REQUIRE_IF_MATCH=True)
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_required_if_match_missing_is_428(method: str) -> None:
    with pytest.raises(PreconditionRequired):
        expected_versions(request(method))
    assert expected_versions(request(method, IF_MATCH='"1"')) == {1}


@override_settings(SAFEWRITES_REQUIRE_IF_MATCH=True)
def test_a_read_needs_no_if_match_even_when_writes_do() -> None:
    assert expected_versions(request("get")) is None


def test_check_passes_the_current_version_and_refuses_others() -> None:
    check(None, 7)
    check(frozenset({6, 7}), 7)
    with pytest.raises(PreconditionFailed) as refused:
        check(frozenset({6}), 7)
    assert refused.value.headers == {"ETag": '"7"'}
    assert refused.value.details == {"current_etag": '"7"'}


@pytest.mark.django_db
def test_the_412_answer_carries_the_current_etag_in_header_and_details() -> None:
    response = handle_exception(PreconditionFailed(4), None)
    assert response.status_code == 412
    assert response["ETag"] == '"4"'
    error = json.loads(response.content)["error"]
    assert error["code"] == "precondition_failed"
    assert error["details"] == {"current_etag": '"4"'}
    assert error["message"] == "The resource was changed since you loaded it"


@pytest.mark.django_db
def test_the_428_answer() -> None:
    response = handle_exception(PreconditionRequired(), None)
    assert response.status_code == 428
    assert json.loads(response.content)["error"]["code"] == "precondition_required"


@pytest.mark.parametrize("header", ['"5"', 'W/"5"', '"4", "5"', "*"])
def test_if_none_match_naming_the_current_version_is_304(header: str) -> None:
    response = not_modified(request("get", IF_NONE_MATCH=header), 5)
    assert response is not None
    assert response.status_code == 304
    assert response["ETag"] == '"5"'


@pytest.mark.parametrize("header", [None, '"4"', "5", 'W/"4"'])
def test_if_none_match_naming_another_version_is_no_304(header: str | None) -> None:
    headers = {} if header is None else {"IF_NONE_MATCH": header}
    assert not_modified(request("get", **headers), 5) is None
