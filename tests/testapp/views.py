"""Test-only views that raise each kind of error, from DRF views and from plain Django views."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from django.core import exceptions as django_exc
from django.db import connection, connections, models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET
from rest_framework import exceptions as drf_exc
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from errors import exceptions as app_exc
from errors.context import get_correlation_id
from errors.external import translate
from safewrites.idempotency import idempotent
from safewrites.models import IdempotencyRecord

from .models import Child, Measurement, Parent

log = logging.getLogger("tests.testapp")

LEAKY_TEXT = (
    "password=hunter2 while running SELECT * FROM auth_user WHERE id = 1 "
    "in /srv/cortex/secret_settings.py"
)

# What each /raise/<kind> view raises. The expected answers live in the tests.
RAISERS: dict[str, Callable[[], BaseException]] = {
    "validation_exception": lambda: app_exc.ValidationException(
        field_errors={"name": ["Name is required"]}
    ),
    "drf_validation": lambda: drf_exc.ValidationError({"name": ["This field is required."]}),
    "django_validation": lambda: django_exc.ValidationError({"name": ["Too short."]}),
    "django_validation_plain": lambda: django_exc.ValidationError("Not allowed today."),
    "parse_error": lambda: drf_exc.ParseError(),
    "authentication_exception": lambda: app_exc.AuthenticationException(),
    "not_authenticated": lambda: drf_exc.NotAuthenticated(),
    "authentication_failed": lambda: drf_exc.AuthenticationFailed(),
    "token_expired": lambda: drf_exc.AuthenticationFailed(
        "Token has expired", code="token_expired"
    ),
    "authorization_exception": lambda: app_exc.AuthorizationException(),
    "drf_permission_denied": lambda: drf_exc.PermissionDenied(),
    "django_permission_denied": lambda: django_exc.PermissionDenied("Only owners may do that"),
    "not_found_exception": lambda: app_exc.NotFoundException(
        "Workspace not found", resource_type="workspace", resource_id="42"
    ),
    "drf_not_found": lambda: drf_exc.NotFound(),
    "http404": lambda: Http404("No such thing"),
    "method_not_allowed": lambda: drf_exc.MethodNotAllowed("PATCH"),
    "not_acceptable": lambda: drf_exc.NotAcceptable(),
    "unsupported_media_type": lambda: drf_exc.UnsupportedMediaType("text/csv"),
    "conflict_exception": lambda: app_exc.ConflictException(),
    "rate_limit_exception": lambda: app_exc.RateLimitException(retry_after=30),
    "throttled": lambda: drf_exc.Throttled(wait=12.2),
    "external_service": lambda: app_exc.ExternalServiceException(service_name="billing"),
    "external_timeout": lambda: app_exc.ExternalServiceException(
        "Billing timed out", status_code=504, service_name="billing"
    ),
    "billing_timed_out": lambda: translate(TimeoutError(), "billing") or RuntimeError(),
    "request_data_too_big": lambda: django_exc.RequestDataTooBig("too big"),
    "internal": lambda: RuntimeError(LEAKY_TEXT),
    "service_unavailable": lambda: app_exc.ServiceUnavailableException(retry_after=7),
}


@api_view(["GET", "POST"])
@permission_classes([AllowAny])
def drf_raise(request: Request, kind: str) -> Response:
    raise RAISERS[kind]()


def plain_raise(request: HttpRequest, kind: str) -> HttpResponse:
    raise RAISERS[kind]()


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_code(request: Request, code: str) -> Response:
    """Answers with the catalog's `code`, whatever it is."""
    raise app_exc.AppException(code=code)


def plain_code(request: HttpRequest, code: str) -> HttpResponse:
    raise app_exc.AppException(code=code)


class ItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=5)


class MetadataSerializer(serializers.Serializer):
    color = serializers.ChoiceField(choices=["red", "blue"])


class PayloadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    metadata = MetadataSerializer()
    items = ItemSerializer(many=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("name") == "forbidden":
            raise serializers.ValidationError("This name is forbidden.")
        return attrs


@api_view(["POST"])
@permission_classes([AllowAny])
def drf_validate(request: Request) -> Response:
    serializer = PayloadSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response(serializer.validated_data, status=201)


class GroupSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=5)
    items = ItemSerializer(many=True)


@api_view(["POST"])
@permission_classes([AllowAny])
def drf_validate_many(request: Request) -> Response:
    """A list of groups, each with a list of items: `many=True` at the top and nested."""
    serializer = GroupSerializer(data=request.data, many=True)
    serializer.is_valid(raise_exception=True)
    return Response(serializer.validated_data, status=201)


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_ok(request: Request) -> Response:
    log.info("inside drf_ok")
    return Response({"ok": True, "correlation_id": get_correlation_id()})


async def async_echo(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0.001)
    log.info("inside async_echo")
    await asyncio.sleep(0)
    return JsonResponse({"correlation_id": get_correlation_id()})


async def async_hold(request: HttpRequest) -> JsonResponse:
    """Take `seconds` (a query parameter) to answer: a request that keeps its turn that long."""
    await asyncio.sleep(float(request.GET.get("seconds", "0.5")))
    return JsonResponse({"held": True})


def sync_hold(request: HttpRequest) -> JsonResponse:
    """The same for sync views (a WSGI server's thread is held meanwhile)."""
    time.sleep(float(request.GET.get("seconds", "0.5")))
    return JsonResponse({"held": True})


@require_GET
def plain_get_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def plain_streaming(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"one\n", b"two\n"]), content_type="text/plain")


def plain_own_json_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "teapot"}, status=418)


def log_unserializable(request: HttpRequest) -> JsonResponse:
    log.warning(
        "odd extra", extra={"thing": object(), "token": "abc123", "nested": {"password": "x"}}
    )
    return JsonResponse({"ok": True})


# --- Database rows ---------------------------------------------------------------------------


@api_view(["POST"])
@permission_classes([AllowAny])
def db_unique(request: Request) -> Response:
    Parent.objects.create(name="same")
    Parent.objects.create(name="same")
    return Response(status=201)


@api_view(["POST"])
@permission_classes([AllowAny])
def db_foreign_key(request: Request) -> Response:
    # Django creates foreign keys DEFERRABLE INITIALLY DEFERRED: the database refuses this row
    # when its transaction commits (at once in autocommit, after the view under ATOMIC_REQUESTS).
    Child.objects.create(parent_id=999_999)
    return Response(status=201)


@api_view(["GET"])
@permission_classes([AllowAny])
def db_timeout(request: Request) -> Response:
    if connection.vendor == "postgresql":
        # SET LOCAL lasts until the end of the transaction, so the view needs one.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(2)")
    else:
        # SQLite has no statement timeout; a progress handler that aborts is how one is built.
        connection.ensure_connection()
        raw = connection.connection
        raw.set_progress_handler(lambda: 1, 10_000)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 100000000) SELECT count(*) FROM n"
                )
        finally:
            raw.set_progress_handler(None, 0)
    return Response({"finished": True})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@api_view(["GET"])
@permission_classes([AllowAny])
def db_unreachable(request: Request) -> Response:
    default = connections["default"]
    settings_dict = dict(default.settings_dict)
    if default.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    else:
        settings_dict["NAME"] = "/nonexistent-directory/cortex.sqlite3"
    unreachable = type(default)(settings_dict, alias="unreachable")
    try:
        with unreachable.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        unreachable.close()
        if default.vendor == "postgresql":
            # Its pool would go on reconnecting, and warning, in the background for minutes.
            unreachable.close_pool()  # type: ignore[attr-defined]
    return Response({"reached": True})


@api_view(["POST"])
@permission_classes([AllowAny])
def write_then_conflict(request: Request) -> Response:
    Parent.objects.create(name=cast(dict[str, Any], request.data).get("name", "half"))
    raise app_exc.ConflictException("Second half failed")


def plain_write_then_conflict(request: HttpRequest) -> HttpResponse:
    Parent.objects.create(name="plain-half")
    raise app_exc.ConflictException("Second half failed")


def plain_status(request: HttpRequest, status: int) -> HttpResponse:
    """An error page of `status` that the view built itself, as plain text (not JSON)."""
    return HttpResponse(f"status {status}", status=status, content_type="text/plain")


# --- The client's data that the database refuses ------------------------------------------------


@api_view(["POST"])
@permission_classes([AllowAny])
def db_measurement(request: Request) -> Response:
    """Write the posted fields as a `Measurement` through the ORM, unvalidated: the database
    alone decides (negative quantity, missing label, and on PostgreSQL too long a label, an
    integer out of range or a NUL in text or in JSON)."""
    Measurement.objects.create(**cast(dict[str, Any], request.data))
    return Response(status=201)


@api_view(["POST"])
@permission_classes([AllowAny])
def db_too_long(request: Request) -> Response:
    """A label longer than its column: PostgreSQL refuses it as such; SQLite, which keeps text of
    any length, refuses it past its length limit, lowered for this write."""
    if connection.vendor == "postgresql":
        Measurement.objects.create(label="x" * 9, quantity=1)
        return Response(status=201)
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64)
    try:
        Measurement.objects.create(label="x" * 100, quantity=1)
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, previous)
    return Response(status=201)


@api_view(["POST"])
@permission_classes([AllowAny])
def db_invalid_value(request: Request) -> Response:
    """A value the database cannot read as its column's type."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT %s::integer", ["abc"])
        else:
            cursor.execute(
                "INSERT INTO testapp_measurement (id, label, quantity, extra) "
                "VALUES (%s, %s, %s, %s)",
                ["abc", "a", 1, "{}"],
            )
    return Response(status=201)


@api_view(["POST"])
@permission_classes([AllowAny])
def db_not_updated(request: Request, how: str) -> Response:
    """Save a row that another request deleted meanwhile, as a forced update: Django 6.0+ raises
    the model's NotUpdated (a DatabaseError on 5.2)."""
    parent = Parent.objects.create(name=f"gone-{how}")
    Parent.objects.filter(pk=parent.pk).delete()  # the other request
    parent.name = f"renamed-{how}"
    if how == "update-fields":
        parent.save(update_fields=["name"])
    else:
        parent.save(force_update=True)
    return Response({"saved": True})


@api_view(["GET"])
@permission_classes([AllowAny])
def db_fetch_blocked(request: Request, what: str) -> Response:
    """Touch what a queryset in Django 6.1's RAISE fetch mode did not load: a deferred field, or
    a related object."""
    parent = Parent.objects.create(name=f"fetch-{what}")
    if what == "field":
        loaded = in_raise_mode(Parent.objects.only("id")).get(pk=parent.pk)
        return Response({"name": loaded.name})
    Child.objects.create(parent=parent)
    child = in_raise_mode(Child.objects.all()).get(parent=parent)
    return Response({"parent": child.parent.name})


def in_raise_mode(queryset: QuerySet[Any]) -> Any:
    """`queryset` in Django 6.1's RAISE fetch mode (typed loosely: 5.2's stubs have none)."""
    return cast(Any, queryset).fetch_mode(cast(Any, models).FETCH_RAISE)


@api_view(["GET"])
@permission_classes([AllowAny])
def db_error(request: Request) -> Response:
    """A statement the database refuses for a reason that is not the client's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM testapp_no_such_table")
    return Response({"reached": True})


# --- Idempotency-Key (safewrites) ------------------------------------------------------------


class IdempotentParents(APIView):
    """`POST {"name"}` (8 characters at most) records a Measurement, once per Idempotency-Key;
    `X-Then: 503` or `500` fails the request after its write, `hold` takes 3 s, `taken-over`
    gives its key to another request meanwhile (headers are not fingerprinted)."""

    permission_classes = [IsAuthenticated]

    @idempotent
    def post(self, request: Request) -> Response:
        name = cast(dict[str, Any], request.data).get("name")
        if not name:
            raise app_exc.ValidationException(field_errors={"name": ["This field is required."]})
        row = Measurement.objects.create(label=name, quantity=0)
        then = request.headers.get("X-Then")
        if then == "503":
            raise app_exc.ServiceUnavailableException(retry_after=1)
        if then == "500":
            raise RuntimeError(LEAKY_TEXT)
        if then == "hold":  # still running when a second request with its key comes
            time.sleep(3)
        if then == "taken-over":  # another process, once this one's lock ran out (PostgreSQL)
            key = request.headers["Idempotency-Key"]
            thief = threading.Thread(target=_take_over, args=(key,))
            thief.start()
            thief.join()
        return Response({"id": row.pk, "name": row.label}, status=201)


def _take_over(key: str) -> None:
    """Give `key` to another request, on a connection (and in a transaction) of its own."""
    try:
        IdempotencyRecord.objects.filter(key=key).update(lock_token="another-process")
    finally:
        connection.close()
