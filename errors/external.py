"""Outgoing calls: failures become `ExternalServiceException` (docs/background-work.md)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import json
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from .catalog import _
from .conf import ErrorsSettings, errors_settings
from .exceptions import ExternalServiceException
from .tasks import add_carried, carried_context

F = TypeVar("F", bound=Callable[..., Any])

CONNECTION_ERROR: Final = "connection_error"
TIMEOUT: Final = "timeout"
BAD_STATUS: Final = "bad_status"
INVALID_RESPONSE: Final = "invalid_response"

_MESSAGES: Final = {
    CONNECTION_ERROR: _("External service '%(service)s' could not be reached"),
    TIMEOUT: _("External service '%(service)s' timed out"),
    BAD_STATUS: _("External service '%(service)s' answered with an error"),
    INVALID_RESPONSE: _("External service '%(service)s' sent an invalid response"),
}


def classify(exc: BaseException) -> tuple[str, int | None] | None:
    """`(reason, upstream_status)` for a failure of an outgoing call, None for anything else."""
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        if isinstance(exc, httpx.TimeoutException):
            return TIMEOUT, None
        if isinstance(exc, httpx.HTTPStatusError):
            return BAD_STATUS, getattr(exc.response, "status_code", None)
        if isinstance(exc, httpx.DecodingError | httpx.TooManyRedirects):
            return INVALID_RESPONSE, None
        if isinstance(exc, httpx.TransportError):  # ConnectError, ReadError, RemoteProtocolError
            return CONNECTION_ERROR, None
    requests_exceptions = sys.modules.get("requests.exceptions")
    if requests_exceptions is not None and isinstance(exc, requests_exceptions.RequestException):
        if isinstance(exc, requests_exceptions.Timeout):  # before ConnectionError: ConnectTimeout
            return TIMEOUT, None
        if isinstance(exc, requests_exceptions.HTTPError):
            return BAD_STATUS, getattr(exc.response, "status_code", None)
        if isinstance(
            exc,
            requests_exceptions.JSONDecodeError
            | requests_exceptions.ContentDecodingError
            | requests_exceptions.TooManyRedirects,
        ):
            return INVALID_RESPONSE, None
        if isinstance(
            exc, requests_exceptions.ConnectionError | requests_exceptions.ChunkedEncodingError
        ):
            return CONNECTION_ERROR, None
        # MissingSchema, InvalidURL, InvalidHeader…: our own mistake, not the service's failure.
        return None
    if isinstance(exc, TimeoutError):  # socket.timeout and asyncio.TimeoutError are aliases
        return TIMEOUT, None
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return INVALID_RESPONSE, None
    if isinstance(exc, OSError):  # ConnectionRefusedError, socket.gaierror, ssl.SSLError, …
        return CONNECTION_ERROR, None
    return None


def translate(exc: BaseException, service_name: str) -> ExternalServiceException | None:
    """The `ExternalServiceException` for `exc`, or None when it is no failure of the call."""
    found = classify(exc)
    if found is None:
        return None
    reason, upstream_status = found
    details: dict[str, Any] = {"reason": reason}
    if upstream_status is not None:
        details["upstream_status"] = upstream_status
    return ExternalServiceException(
        _MESSAGES[reason],
        status_code=504 if reason == TIMEOUT else 502,
        details=details,
        service_name=service_name,
        params={"service": service_name},
    )


class external_service(contextlib.ContextDecorator, contextlib.AsyncContextDecorator):
    """Guard an outgoing call to `service_name` (context manager or decorator, sync or async)."""

    def __init__(self, service_name: str) -> None:
        if not service_name:
            raise ValueError("external_service needs the name of the service")
        self.service_name = service_name

    def __enter__(self) -> external_service:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        translated = translate(exc, self.service_name)
        if translated is not None:
            raise translated from exc

    async def __aenter__(self) -> external_service:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Guard each call of `func`: with `async with` for a coroutine function, else `with`."""
        if inspect.iscoroutinefunction(func):
            return contextlib.AsyncContextDecorator.__call__(self, func)
        return contextlib.ContextDecorator.__call__(self, func)


# --- correlation id on outgoing requests -----------------------------------------------------


def correlation_headers() -> dict[str, str]:
    """The headers that carry the current correlation id and trace to a call made now."""
    from django.conf import settings

    # A script or worker may call out before (or without) configuring Django: the defaults hold.
    if not settings.configured:
        return carried_context(ErrorsSettings.correlation_id_header.default)
    if not errors_settings.propagate_correlation_id:
        return {}
    return carried_context(errors_settings.correlation_id_header)


def _httpx_request(request: Any) -> None:
    add_carried(request.headers, correlation_headers())


async def _httpx_async_request(request: Any) -> None:
    add_carried(request.headers, correlation_headers())


def httpx_event_hooks() -> dict[str, list[Callable[..., Any]]]:
    """`event_hooks` for an `httpx.Client` whose requests carry the correlation id."""
    return {"request": [_httpx_request]}


def httpx_async_event_hooks() -> dict[str, list[Callable[..., Any]]]:
    """`event_hooks` for an `httpx.AsyncClient` (its hooks are awaited)."""
    return {"request": [_httpx_async_request]}


@functools.cache
def _adapter_class() -> type:
    from requests.adapters import HTTPAdapter

    class CorrelationIdAdapter(HTTPAdapter):
        """Adds the correlation id in `add_headers` (requests' hooks see responses only)."""

        def add_headers(self, request: Any, **kwargs: Any) -> None:
            super().add_headers(request, **kwargs)
            add_carried(request.headers, correlation_headers())

    return CorrelationIdAdapter


def correlate_session(session: Any, **adapter_kwargs: Any) -> Any:
    """Mount a correlating `HTTPAdapter(**adapter_kwargs)` on a `requests.Session`; return it."""
    adapter = _adapter_class()(**adapter_kwargs)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_MARK: Final = "_errors_correlated"


def _correlating(send: Callable[..., Any]) -> Callable[..., Any]:
    """A client's `send` that adds the correlation headers to the request first."""
    if inspect.iscoroutinefunction(send):

        async def async_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            add_carried(request.headers, correlation_headers())
            return await send(self, request, *args, **kwargs)

        wrapper: Callable[..., Any] = async_send
    else:

        def sync_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            add_carried(request.headers, correlation_headers())
            return send(self, request, *args, **kwargs)

        wrapper = sync_send
    wrapper = functools.wraps(send)(wrapper)
    setattr(wrapper, _MARK, True)
    return wrapper


def instrument_http_clients(libraries: tuple[str, ...] = ("httpx", "requests")) -> list[str]:
    """Wrap the clients' `send` to add the correlation id; return the libraries instrumented."""
    done = []
    for library in libraries:
        if library not in ("httpx", "requests"):
            raise ValueError(f"unknown HTTP client library {library!r}; use 'httpx' or 'requests'")
        try:
            module = importlib.import_module(library)
        except ImportError:
            continue
        classes = (module.Client, module.AsyncClient) if library == "httpx" else (module.Session,)
        for cls in classes:
            if not getattr(cls.send, _MARK, False):
                cls.send = _correlating(cls.send)
        done.append(library)
    return done


__all__ = [
    "BAD_STATUS",
    "CONNECTION_ERROR",
    "INVALID_RESPONSE",
    "TIMEOUT",
    "classify",
    "correlation_headers",
    "correlate_session",
    "external_service",
    "httpx_async_event_hooks",
    "httpx_event_hooks",
    "instrument_http_clients",
    "translate",
]
