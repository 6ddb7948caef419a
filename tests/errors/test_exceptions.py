"""The exception classes: constructor arguments of the spec, and agreement with the catalog."""

from __future__ import annotations

import pytest

from errors import catalog
from errors import exceptions as exc


@pytest.mark.parametrize(
    "cls",
    [
        exc.AppException,
        exc.ValidationException,
        exc.AuthenticationException,
        exc.AuthorizationException,
        exc.NotFoundException,
        exc.ConflictException,
        exc.ExternalServiceException,
        exc.DatabaseException,
        exc.RateLimitException,
    ],
)
def test_each_class_takes_its_facts_from_its_catalog_entry(cls: type[exc.AppException]) -> None:
    entry = catalog.get(cls.default_code)
    assert entry is not None
    instance = cls()
    assert instance.code == cls.default_code
    assert instance.status_code == entry.status
    assert instance.message == entry.message
    assert str(instance) == entry.message
    # One source of truth: the class states only its code; the rest is the catalog's.
    stated = {"status_code", "default_message", "category", "severity"} & set(vars(cls))
    assert not stated, stated


def test_authorization_has_one_default_message() -> None:
    assert exc.AuthorizationException().message == "Insufficient permissions"
    assert catalog.get("authorization_error").message == "Insufficient permissions"  # type: ignore[union-attr]


def test_a_class_for_a_code_of_its_own_names_the_registered_code() -> None:
    catalog.register(
        "test_payment_required",
        status=402,
        category="request",
        severity="info",
        message="Payment required",
        meaning="The account's plan does not include this feature.",
    )

    class PaymentRequired(exc.AppException):
        default_code = "test_payment_required"

    raised = PaymentRequired()
    assert (raised.code, raised.status_code, raised.message) == (
        "test_payment_required",
        402,
        "Payment required",
    )


def test_an_unregistered_code_says_what_is_missing() -> None:
    class Unknown(exc.AppException):
        default_code = "test_never_registered"

    with pytest.raises(LookupError, match="test_never_registered"):
        Unknown()


def test_another_registered_code_brings_its_message_too() -> None:
    raised = exc.AppException(code="not_found")
    assert (raised.status_code, raised.message) == (404, "Not found")
    conflict = exc.ConflictException(code="conflict_error")
    assert conflict.message == "Resource already exists"


def test_app_exception_takes_message_code_status_and_details() -> None:
    error = exc.AppException("Boom", code="custom_code", status_code=418, details={"a": 1})
    assert (error.message, error.code, error.status_code, error.details) == (
        "Boom",
        "custom_code",
        418,
        {"a": 1},
    )


def test_a_registered_code_brings_its_status() -> None:
    assert exc.AppException(code="not_found").status_code == 404
    assert exc.DatabaseException(code="db_timeout").status_code == 504
    assert exc.DatabaseException(code="db_connection_error").status_code == 503


def test_validation_field_errors_go_to_details() -> None:
    error = exc.ValidationException(field_errors={"name": ["Required"]})
    assert error.details == {"field_errors": {"name": ["Required"]}}
    assert error.field_errors == {"name": ["Required"]}


def test_not_found_names_the_resource_in_details_and_keeps_the_catalog_message() -> None:
    error = exc.NotFoundException(resource_type="workspace", resource_id=7)
    assert str(error) == "Not found"  # translatable, unlike a message made of the type's name
    assert error.details == {"resource_type": "workspace", "resource_id": "7"}


def test_external_service_names_the_service_and_may_be_a_timeout() -> None:
    error = exc.ExternalServiceException(status_code=504, service_name="billing")
    assert error.status_code == 504
    assert error.details == {"service_name": "billing"}


def test_rate_limit_retry_after() -> None:
    error = exc.RateLimitException(retry_after=30)
    assert error.retry_after == 30
    assert error.details == {"retry_after": 30}


def test_any_app_exception_may_say_when_to_retry() -> None:
    assert exc.AppException(code="service_unavailable", retry_after=3).retry_after == 3
    assert exc.ServiceUnavailableException(retry_after=5).retry_after == 5
    assert exc.DatabaseException(code="db_connection_error", retry_after=2).retry_after == 2
    # The classes whose code fixes the status take (message, code, details, retry_after).
    error = exc.ServiceUnavailableException("Down for a moment", "service_busy", {"queue": 4}, 1)
    assert (error.code, error.status_code, error.details, error.retry_after) == (
        "service_busy",
        503,
        {"queue": 4},
        1,
    )
    assert exc.NotFoundException().retry_after is None


def test_details_are_copied_not_shared() -> None:
    shared = {"a": 1}
    error = exc.NotFoundException(details=shared, resource_type="thing")
    assert shared == {"a": 1}
    assert error.details == {"a": 1, "resource_type": "thing"}
