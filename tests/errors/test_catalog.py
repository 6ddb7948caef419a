"""The catalog of error codes: registering a code, and the facts each code states.

A code's status, category and severity are stated once, here; the rules below are what makes
them agree with each other (a client's mistake is never logged as the service's error).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from errors import catalog
from errors.catalog import Category, Severity

# The codes the service can answer with: the errors app's own, and those its apps register.
SERVICE_CODES = [
    *catalog.BUILTIN_CODES,
    "stream_lagging",
    "workspace_name_conflict",
]

# The categories a status may have.
CATEGORIES_OF_STATUS: dict[int, set[Category]] = {
    400: {Category.VALIDATION, Category.REQUEST},
    401: {Category.AUTHENTICATION},
    403: {Category.AUTHORIZATION},
    404: {Category.NOT_FOUND},
    405: {Category.REQUEST},
    406: {Category.REQUEST},
    408: {Category.REQUEST},
    409: {Category.CONFLICT},
    413: {Category.REQUEST},
    415: {Category.REQUEST},
    429: {Category.RATE_LIMIT},
    500: {Category.INTERNAL, Category.DATABASE},
    502: {Category.EXTERNAL_SERVICE},
    503: {Category.INTERNAL, Category.DATABASE, Category.UNAVAILABLE},
    504: {Category.DATABASE, Category.EXTERNAL_SERVICE},
}


def entry_of(code: str) -> catalog.ErrorCode:
    entry = catalog.get(code)
    assert entry is not None, f"{code} is not in the catalog"
    return entry


def test_catalog_registration_refuses_a_conflicting_entry() -> None:
    facts: dict[str, Any] = {
        "status": 418,
        "category": "request",
        "severity": "info",
        "message": "Teapot",
        "meaning": "Used by this test.",
    }
    catalog.register("test_only_code", **facts)
    # The same facts again are fine; different facts are a programming error.
    catalog.register("test_only_code", **facts)
    with pytest.raises(ValueError, match="test_only_code"):
        catalog.register("test_only_code", **{**facts, "status": 400})


def test_every_catalog_code_is_snake_case_with_a_meaning() -> None:
    for entry in catalog.entries():
        assert entry.code.replace("_", "").isalnum() and entry.code == entry.code.lower()
        assert 400 <= entry.status <= 599
        assert entry.meaning and entry.message


def test_register_returns_the_entry_with_its_facts_as_enums() -> None:
    entry = catalog.register(
        "test_catalog_gone",
        status=410,
        category="not_found",
        severity="info",
        message="Gone",
        meaning="Used by this test.",
    )
    assert entry == catalog.ErrorCode(
        "test_catalog_gone", 410, Category.NOT_FOUND, Severity.INFO, "Gone", "Used by this test."
    )
    assert catalog.get("test_catalog_gone") is entry


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", 404),
        ("category", "request"),
        ("severity", "warning"),
        ("message", "Gone for good"),
        ("meaning", "Something else."),
    ],
)
def test_registering_a_code_again_with_any_fact_changed_is_refused(
    field: str, value: object
) -> None:
    facts: dict[str, object] = {
        "status": 410,
        "category": "not_found",
        "severity": "info",
        "message": "Gone",
        "meaning": "Used by this test.",
    }
    first = catalog.register("test_catalog_conflict", **facts)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        catalog.register("test_catalog_conflict", **{**facts, field: value})  # type: ignore[arg-type]
    assert catalog.get("test_catalog_conflict") == first


@pytest.mark.parametrize(("category", "severity"), [("teapot", "info"), ("request", "fatal")])
def test_an_unknown_category_or_severity_is_refused(category: str, severity: str) -> None:
    with pytest.raises(ValueError):
        catalog.register(
            "test_catalog_unknown",
            status=418,
            category=category,
            severity=severity,
            message="Teapot",
            meaning="Used by this test.",
        )
    assert catalog.get("test_catalog_unknown") is None


def test_an_unknown_code_has_no_entry() -> None:
    assert catalog.get("no_such_code") is None


def test_entries_are_ordered_by_status_then_code() -> None:
    keys = [(entry.status, entry.code) for entry in catalog.entries()]
    assert keys == sorted(keys)
    assert {code for _, code in keys} >= set(SERVICE_CODES)


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, logging.CRITICAL),
        (Severity.ERROR, logging.ERROR),
        (Severity.WARNING, logging.WARNING),
        (Severity.INFO, logging.INFO),
    ],
)
def test_each_severity_is_logged_at_its_level(severity: Severity, level: int) -> None:
    assert severity.log_level == level


def test_every_severity_has_a_level() -> None:
    assert {severity.log_level for severity in Severity} == {
        logging.CRITICAL,
        logging.ERROR,
        logging.WARNING,
        logging.INFO,
    }


def test_every_builtin_code_is_registered_as_stated() -> None:
    for code, (status, category, severity, message, meaning) in catalog.BUILTIN_CODES.items():
        assert entry_of(code) == catalog.ErrorCode(
            code, status, category, severity, message, meaning
        )


@pytest.mark.parametrize("code", SERVICE_CODES)
def test_each_codes_status_category_and_severity_agree(code: str) -> None:
    entry = entry_of(code)
    assert entry.category in CATEGORIES_OF_STATUS[entry.status], entry
    if entry.status < 500:
        # A client's mistake is never the service's error: it neither pages nor feeds the alert.
        assert entry.severity in {Severity.INFO, Severity.WARNING}, entry
    else:
        assert entry.severity != Severity.INFO, entry


def test_a_message_is_filled_in_the_active_language_and_in_english() -> None:
    from django.utils import translation

    message = catalog._("External service '%(service)s' timed out")
    with translation.override("fr"):
        filled = catalog.fill(message, {"service": "billing"})
        assert "billing" in filled and filled != "External service 'billing' timed out"
        assert catalog.english(message, {"service": "billing"}) == (
            "External service 'billing' timed out"
        )


def test_a_translation_whose_placeholders_do_not_fit_is_shown_untranslated() -> None:
    from django.utils import translation
    from django.utils.functional import lazy

    # A project's own catalog that renamed the placeholder in German.
    def broken(source: str) -> str:
        return "%(dienst)s antwortet nicht" if translation.get_language() == "de" else source

    message = lazy(broken, str)("External service '%(service)s' timed out")
    with translation.override("de"):
        assert catalog.fill(message, {"service": "billing"}) == (
            "External service 'billing' timed out"
        )
