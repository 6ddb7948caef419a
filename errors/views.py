"""Error views: the envelope for API clients, Django's pages for browsers (docs/handling.md)."""

from __future__ import annotations

import hmac
import sys

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import csrf, defaults

from . import catalog
from .addresses import parse_address
from .conf import errors_settings
from .exceptions import AuthenticationException, AuthorizationException
from .handling import handle_exception, respond
from .metrics import exposition
from .negotiation import prefers_html
from .normalize import for_status, normalize


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400."""
    if prefers_html(request):
        return defaults.bad_request(request, exception or BadRequest())
    return _answer(request, exception, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403."""
    if prefers_html(request):
        return defaults.permission_denied(request, exception or PermissionDenied())
    return _answer(request, exception, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404."""
    if prefers_html(request):
        return defaults.page_not_found(request, exception)
    return _answer(request, exception, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500; Django calls it while the exception is being handled."""
    if prefers_html(request):
        return defaults.server_error(request)
    return _answer(request, sys.exc_info()[1], 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW; Django's reasons are fixed sentences, safe to show."""
    # Unmarked as logged, so Django writes its `django.security.csrf` line with the reason.
    if prefers_html(request):
        return csrf.csrf_failure(request, reason)
    exc = (
        AuthorizationException(_("CSRF verification failed: %(reason)s"), params={"reason": reason})
        if reason
        else AuthorizationException(_("CSRF verification failed"))
    )
    response = handle_exception(exc, request)
    response._has_been_logged = False  # type: ignore[attr-defined]
    return response


def metrics(request: HttpRequest) -> HttpResponse:
    """`/metrics`, limited by network and bearer token when set (docs/metrics.md)."""
    if not errors_settings.monitoring_enabled:
        raise Http404(_("Monitoring is off"))
    networks = errors_settings.metrics_allowed_networks
    client = parse_address(request.META.get("REMOTE_ADDR") or "")
    if networks and not (client is not None and any(client in n for n in networks)):
        return handle_exception(
            AuthorizationException(_("Metrics are not available to this address")), request
        )
    token = errors_settings.metrics_bearer_token
    refusal = None if token is None else _bearer_refusal(request, token)
    if refusal is not None:
        return refusal
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def _bearer_refusal(request: HttpRequest, token: str) -> HttpResponse | None:
    """The 401 for a request without the bearer token (RFC 6750), or None when it has it."""
    scheme, _space, presented = (request.META.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "bearer":
        message, challenge = _("A bearer token is required"), 'Bearer realm="metrics"'
    elif hmac.compare_digest(presented.strip().encode(), token.encode()):  # constant time
        return None
    else:
        message = _("Invalid bearer token")
        challenge = 'Bearer realm="metrics", error="invalid_token"'
    info = normalize(AuthenticationException(message))
    info.headers["WWW-Authenticate"] = challenge
    return respond(info, request)


def error_code(request: HttpRequest, code: str) -> HttpResponse:
    """`/api/errors/<code>`: one catalog entry, in English; problem details' `type` points here."""
    entry = catalog.get(code)
    if entry is None:
        raise Http404(_("No such error code"))
    return JsonResponse(
        {
            "code": entry.code,
            "status": entry.status,
            "category": entry.category.value,
            "severity": entry.severity.value,
            "title": catalog.english_message(entry),
            "meaning": entry.meaning,
        }
    )


def _answer(request: HttpRequest, exception: BaseException | None, status: int) -> HttpResponse:
    if exception is None:
        return respond(for_status(status), request)
    # The status follows the exception (RequestDataTooBig reaches handler400 but answers 413).
    response = handle_exception(exception, request)
    if isinstance(exception, SuspiciousOperation):
        # Django logs it on django.security.<name> (a disallowed Host, say) only for a response
        # not marked as logged; that line says what ours does not.
        response._has_been_logged = False  # type: ignore[attr-defined]
    return response
