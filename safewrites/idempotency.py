"""Idempotent writes with Idempotency-Key: the first complete answer per caller and key is stored
with the write, in one transaction, and replayed to every retry (README, "Safe writes")."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import orjson
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBase, RawPostDataException
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.views import APIView

from errors.context import get_correlation_id
from errors.exceptions import AppException

from .models import IdempotencyRecord

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Answers that say "not done, try again": their work is rolled back and they are not stored, so
# that the retry runs the request afresh.
RETRY_STATUSES = frozenset({408, 425, 429, 503, 504})
# Headers of the first answer that its replays repeat.
REPLAYED_HEADERS = ("Content-Type", "Content-Language", "Location", "ETag")
_KEY_TEXT = r"[A-Za-z0-9\-_.:~+/=]{1,255}"
_KEY = re.compile(_KEY_TEXT)
# The header's values, bare (as Stripe's) or a structured-field string (as the IETF draft's).
KEY_PATTERN = f'^({_KEY_TEXT}|"{_KEY_TEXT}")$'

Handler = Callable[..., HttpResponseBase]


class IdempotencyKeyInvalid(AppException):
    """400: the Idempotency-Key is empty, too long or has characters it may not have."""

    default_code = "idempotency_key_invalid"


class IdempotencyKeyReused(AppException):
    """422: the key was sent before with another method, URL or body."""

    default_code = "idempotency_key_reused"


class IdempotencyInProgress(AppException):
    """409: the first request with this key is still running; retry after Retry-After."""

    default_code = "idempotency_in_progress"

    def __init__(self) -> None:
        super().__init__(retry_after=1)


@dataclass(frozen=True, slots=True)
class _Claim:
    """This request holds the key: the record's id and the token that proves it."""

    record_id: int
    token: str


def idempotent(handler: Handler) -> Handler:
    """Make a DRF view's handler (`post`) idempotent for callers that send an Idempotency-Key."""

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = read_key(request)
        if key is None or not request.user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        claim = _claim(str(request.user.pk), key, _fingerprint(request))
        if isinstance(claim, IdempotencyRecord):
            return _replay(claim)
        return _run(handler, claim, view, request, *args, **kwargs)

    return wrapper


def read_key(request: Request) -> str | None:
    """The request's Idempotency-Key (bare, or as a structured-field string), if it sent one."""
    value = request.headers.get(KEY_HEADER)
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.fullmatch(value):
        raise IdempotencyKeyInvalid()
    return value


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    try:
        digest.update(request.body)
    except RawPostDataException:  # a form body that Django has read already: its parsed data
        digest.update(repr(sorted(request.POST.lists())).encode())
    return digest.hexdigest()


def _claim(scope: str, key: str, fingerprint: str) -> _Claim | IdempotencyRecord:
    """Take the key, or return its complete record to replay; 409 or 422 when neither."""
    for _attempt in range(3):
        now = timezone.now()
        token = secrets.token_hex(16)
        locked_until = now + timedelta(seconds=_setting("SAFEWRITES_IDEMPOTENCY_LOCK", 10))
        try:
            with transaction.atomic():  # committed before the request runs: others see it
                record = IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    lock_token=token,
                    locked_until=locked_until,
                )
            return _Claim(record.pk, token)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:  # released or purged meanwhile
            continue
        record = existing
        expired = record.created_at <= now - timedelta(seconds=ttl())
        if expired:
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if record.status is not None:
            return record
        if record.locked_until is not None and record.locked_until > now:
            raise IdempotencyInProgress()
        # Its request has held the key past the lock: it died, or is slow. This one takes over;
        # if the first one finishes after all, its work is rolled back (see _complete).
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, status=None, lock_token=record.lock_token
        ).update(lock_token=token, locked_until=locked_until)
        if taken:
            return _Claim(record.pk, token)
    raise IdempotencyInProgress()


def _run(
    handler: Handler, claim: _Claim, view: APIView, request: Request, *args: Any, **kwargs: Any
) -> HttpResponseBase:
    """Answer the request; store the answer in the transaction of its work, or undo both."""
    stored = False
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():  # a failed handler's work is undone, the rest stays
                    response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                response = view.handle_exception(exc)
            response = view.finalize_response(request, cast(Any, response), *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
            if response.status_code in RETRY_STATUSES:
                transaction.set_rollback(True)
            elif not _complete(claim, response):
                # Another request took the key over: it does the work, this one undoes it.
                raise IdempotencyInProgress()
        stored = response.status_code not in RETRY_STATUSES  # committed, with the work
    finally:
        if not stored:
            _release(claim)
    return response


def _complete(claim: _Claim, response: HttpResponseBase) -> bool:
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    return bool(
        IdempotencyRecord.objects.filter(pk=claim.record_id, lock_token=claim.token).update(
            status=response.status_code,
            headers=headers,
            body=response.content,  # type: ignore[attr-defined]
            lock_token="",
            locked_until=None,
        )
    )


def _release(claim: _Claim) -> None:
    """Free the key for a retry; if the database cannot be reached, its lock runs out instead."""
    with contextlib.suppress(DatabaseError):
        IdempotencyRecord.objects.filter(pk=claim.record_id, lock_token=claim.token).delete()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    body = bytes(record.body)
    status = record.status or 200
    if status >= 400:
        body = _with_correlation_id(body)
    response = HttpResponse(body, status=status)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    # An error replayed is not a new error: nothing logs or converts it again.
    response._errors_handled = True  # type: ignore[attr-defined]
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _with_correlation_id(body: bytes) -> bytes:
    """An error body with this request's correlation id, as its header has (the contract)."""
    correlation_id = get_correlation_id()
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(document, dict) or correlation_id is None:
        return body
    error = document.get("error")
    target: dict[str, Any] = error if isinstance(error, dict) else document
    if "correlation_id" in target:
        target["correlation_id"] = correlation_id
    return orjson.dumps(document)


def ttl() -> int:
    """SAFEWRITES_IDEMPOTENCY_TTL: seconds a key is remembered (24 h by default)."""
    return _setting("SAFEWRITES_IDEMPOTENCY_TTL", 24 * 60 * 60)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))
