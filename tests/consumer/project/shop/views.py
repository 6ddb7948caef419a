"""Plain Django views, sync and async: one answers, the others fail the ways views fail."""

import asyncio
import time

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse

# tests/test_consumer.py looks for this text in responses: it must never reach a client.
SECRET = "consumer-secret-7f3a9c"


def ok(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def missing(request: HttpRequest) -> JsonResponse:
    raise Http404("No such gadget")


def crash(request: HttpRequest) -> JsonResponse:
    raise RuntimeError(f"could not connect with password {SECRET}")


def forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied("Gadgets are locked")


async def async_ok(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


async def async_missing(request: HttpRequest) -> JsonResponse:
    raise Http404("No such gadget")


async def async_crash(request: HttpRequest) -> JsonResponse:
    raise RuntimeError(f"could not connect with password {SECRET}")


async def async_forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied("Gadgets are locked")


def slow(request: HttpRequest) -> JsonResponse:
    time.sleep(float(request.GET.get("seconds", "1")))
    return JsonResponse({"ok": True})


async def async_slow(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(float(request.GET.get("seconds", "1")))
    return JsonResponse({"ok": True})
