"""`SyncAndAsyncMiddleware`: a middleware runs `call` under a sync handler, `acall` under an
async one, and is a coroutine function only in the second case (so Django adds no thread hop)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import AsyncClient, Client, RequestFactory, override_settings

from errors.hybrid import SyncAndAsyncMiddleware

pytestmark = pytest.mark.django_db


class ModeHeaderMiddleware(SyncAndAsyncMiddleware):
    """Says in a response header which of its methods served the request, and on which thread."""

    def call(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["X-Served-By"] = "call"
        return response

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)
        response["X-Served-By"] = "acall"
        # The event loop's own thread: no hop to a worker thread on the way in.
        response["X-Thread"] = str(threading.get_ident())
        return response


WITH_MODE_HEADER = override_settings(
    MIDDLEWARE=["tests.errors.test_hybrid.ModeHeaderMiddleware", *settings.MIDDLEWARE]
)


def sync_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("sync")


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async")


def request() -> HttpRequest:
    return RequestFactory().get("/anything")


def test_both_modes_are_declared() -> None:
    assert SyncAndAsyncMiddleware.sync_capable is True
    assert SyncAndAsyncMiddleware.async_capable is True


def test_around_a_sync_handler_it_runs_call_and_is_no_coroutine_function() -> None:
    middleware = ModeHeaderMiddleware(sync_view)
    assert not iscoroutinefunction(middleware)
    response = middleware(request())
    assert isinstance(response, HttpResponse)
    assert response["X-Served-By"] == "call"
    assert response.content == b"sync"


def test_around_an_async_handler_it_runs_acall_and_is_a_coroutine_function() -> None:
    middleware = ModeHeaderMiddleware(async_view)
    assert iscoroutinefunction(middleware)

    async def serve() -> tuple[HttpResponseBase, int]:
        return await middleware(request()), threading.get_ident()

    response, loop_thread = async_to_sync(serve)()
    assert isinstance(response, HttpResponse)
    assert response["X-Served-By"] == "acall"
    assert response["X-Thread"] == str(loop_thread)
    assert response.content == b"async"


@pytest.mark.parametrize("view", [sync_view, async_view])
def test_a_subclass_must_implement_the_method_of_its_mode(view: Any) -> None:
    middleware = SyncAndAsyncMiddleware(view)
    if iscoroutinefunction(middleware):
        with pytest.raises(NotImplementedError):
            async_to_sync(middleware)(request())
    else:
        with pytest.raises(NotImplementedError):
            middleware(request())


@WITH_MODE_HEADER
def test_in_the_service_under_wsgi_call_serves_the_request() -> None:
    response = Client().get("/t/drf/ok")
    assert response.status_code == 200
    assert response["X-Served-By"] == "call"


@WITH_MODE_HEADER
def test_in_the_service_under_asgi_acall_serves_the_request() -> None:
    async def fetch() -> tuple[Any, int]:
        return await AsyncClient().get("/t/drf/ok"), threading.get_ident()

    response, loop_thread = async_to_sync(fetch)()
    assert response.status_code == 200
    assert response["X-Served-By"] == "acall"
    assert response["X-Thread"] == str(loop_thread)
