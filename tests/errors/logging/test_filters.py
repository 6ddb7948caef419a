"""errors.logging.filters: redaction, correlation ids and Django's duplicate request logs.

No database and no Django settings are needed: every test builds its own handler or record.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
from typing import Any

import pytest

from errors.context import get_correlation_id, set_correlation_id
from errors.logging import (
    CorrelationIdFilter,
    DuplicateRequestLogFilter,
    JsonFormatter,
    RedactingFilter,
)
from tests.errors.logging.helpers import Capture, Request, make_record

# --- RedactingFilter -------------------------------------------------------------------------


def test_sensitive_keys_are_masked_at_any_depth_without_touching_the_original(
    capture: Capture,
) -> None:
    payload = {
        "user": "alice",
        "items": [{"sku": "A1", "card": {"cvv_token": "cvv-secret-999", "last4": "4242"}}],
        "auth": ({"Authorization": "Bearer abc"}, "plain"),
        "meta": {
            "Session-Id": "session-secret-s1",
            "csrfmiddlewaretoken": "csrf-secret-c1",
            "Password2": "p",
        },
    }
    original = copy.deepcopy(payload)
    capture.logger.info("login", extra={"payload": payload})

    logged = capture.one()["payload"]
    assert logged == {
        "user": "alice",
        "items": [{"sku": "A1", "card": {"cvv_token": "[REDACTED]", "last4": "4242"}}],
        "auth": [{"Authorization": "[REDACTED]"}, "plain"],
        "meta": {
            "Session-Id": "[REDACTED]",
            "csrfmiddlewaretoken": "[REDACTED]",
            "Password2": "[REDACTED]",
        },
    }
    assert payload == original
    # Distinctive values: digits alone could also occur in a timestamp or a thread id.
    for secret in ("Bearer abc", "cvv-secret-999", "session-secret-s1", "csrf-secret-c1"):
        assert secret not in capture.stream.getvalue()


def test_top_level_sensitive_extra_is_masked(capture: Capture) -> None:
    capture.logger.info(
        "auth", extra={"token": "abc", "api_key": "k", "user_password": "p", "user": "alice"}
    )
    record = capture.one()
    assert record["token"] == "[REDACTED]"
    assert record["api_key"] == "[REDACTED]"
    assert record["user_password"] == "[REDACTED]"
    assert record["user"] == "alice"


def test_redaction_copies_only_what_changes() -> None:
    clean = {"a": [1, 2, {"b": 3}]}
    sibling = [{"x": 1}]
    dirty = {"keep": sibling, "secret": "s"}
    record = make_record(clean=clean, dirty=dirty, number=5)

    assert RedactingFilter().filter(record) is True
    assert record.__dict__["clean"] is clean  # nothing to mask: not copied
    assert record.__dict__["dirty"] is not dirty
    assert record.__dict__["dirty"] == {"keep": sibling, "secret": "[REDACTED]"}
    assert record.__dict__["dirty"]["keep"] is sibling
    assert dirty == {"keep": sibling, "secret": "s"}
    assert record.__dict__["number"] == 5


def test_custom_sensitive_keys() -> None:
    record = make_record(ssn="123", password="kept", ctx={"SSN_HASH": "x"})
    RedactingFilter(keys=["ssn"]).filter(record)
    assert record.__dict__["ssn"] == "[REDACTED]"
    assert record.__dict__["password"] == "kept"
    assert record.__dict__["ctx"] == {"SSN_HASH": "[REDACTED]"}


def test_sensitive_keys_are_plain_substrings_and_may_be_none() -> None:
    record = make_record(**{"card.no": "4242", "cardxno": "kept", "token": "kept too"})
    RedactingFilter(keys=["card.no"]).filter(record)
    assert record.__dict__["card.no"] == "[REDACTED]"  # "." is a dot, not "any character"
    assert record.__dict__["cardxno"] == "kept"
    nothing = make_record(password="p", ctx={"secret": "s"})
    RedactingFilter(keys=[]).filter(nothing)
    assert nothing.__dict__["password"] == "p"
    assert nothing.__dict__["ctx"] == {"secret": "s"}


def test_redaction_does_not_touch_standard_attributes_or_the_message() -> None:
    record = make_record()
    record.msg = "token=%s"
    record.args = ("abc",)
    RedactingFilter().filter(record)
    assert record.getMessage() == "token=abc"


class ExplodingDict(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("boom")


def test_redaction_never_raises_and_fails_closed() -> None:
    record = make_record(weird=ExplodingDict(password="p"), token="t", user="alice")
    assert RedactingFilter().filter(record) is True
    assert record.__dict__["weird"] == "[REDACTED]"
    assert record.__dict__["token"] == "[REDACTED]"
    assert record.__dict__["user"] == "alice"


def test_self_referencing_structure_is_handled() -> None:
    loop: dict[str, Any] = {"password": "p"}
    loop["self"] = loop
    record = make_record(loop=loop)
    assert RedactingFilter().filter(record) is True
    assert record.__dict__["loop"]["password"] == "[REDACTED]"
    assert loop["password"] == "p"
    json.loads(JsonFormatter().format(record))


# --- correlation id --------------------------------------------------------------------------


def test_correlation_id_comes_from_the_context(capture: Capture, correlation_id: str) -> None:
    capture.logger.info("with id")
    assert capture.one()["correlation_id"] == correlation_id


def test_filter_keeps_an_id_the_record_already_has(correlation_id: str) -> None:
    record = make_record(correlation_id="from-a-worker")
    assert CorrelationIdFilter().filter(record) is True
    assert record.__dict__["correlation_id"] == "from-a-worker"


def test_filter_sets_none_without_an_id() -> None:
    assert get_correlation_id() is None
    record = make_record()
    assert CorrelationIdFilter().filter(record) is True
    assert record.__dict__["correlation_id"] is None


def test_concurrent_threads_each_log_their_own_id(capture: Capture) -> None:
    count = 50
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        set_correlation_id(f"thread-{index}")
        barrier.wait()  # everyone has set an id before anyone logs
        capture.logger.info("from %d", index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = capture.records()
    assert len(records) == count
    for record in records:
        index = int(record["message"].removeprefix("from "))
        assert record["correlation_id"] == f"thread-{index}"
    assert get_correlation_id() is None


def test_concurrent_tasks_each_log_their_own_id(capture: Capture) -> None:
    async def work(index: int) -> None:
        set_correlation_id(f"task-{index}")
        await asyncio.sleep(0)  # let the other tasks set theirs
        capture.logger.info("from %d", index)

    async def main() -> None:
        await asyncio.gather(*(work(i) for i in range(50)))

    asyncio.run(main())
    records = capture.records()
    assert len(records) == 50
    for record in records:
        assert record["correlation_id"] == "task-" + record["message"].removeprefix("from ")


# --- DuplicateRequestLogFilter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger", "request_obj", "kept"),
    [
        ("django.request", Request(_errors_reported=True), False),
        # Security records say what errors does not (the CSRF reason): always kept.
        ("django.security.csrf", Request(_errors_reported=True), True),
        ("django.security.DisallowedHost", Request(_errors_reported=True), True),
        # An id alone does not mean that errors logged the request.
        ("django.request", Request(correlation_id="abc"), True),
        ("django.request", Request(), True),  # never went through the middleware
        ("django.request", None, True),  # no request attribute at all
        ("errors.request", Request(_errors_reported=True), True),  # ours: always kept
        ("django.server", Request(_errors_reported=True), True),
        ("django.requests", Request(_errors_reported=True), True),  # not a prefix match
    ],
)
def test_duplicate_request_log_filter(logger: str, request_obj: Any, kept: bool) -> None:
    record = logging.LogRecord(logger, logging.ERROR, __file__, 1, "Not Found: /x", (), None)
    if request_obj is not None:
        record.request = request_obj
    assert DuplicateRequestLogFilter().filter(record) is kept
