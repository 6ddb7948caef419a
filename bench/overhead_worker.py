"""One stack of bench/overhead in a process of its own: each request is a call of a WSGIHandler with
a copy of a prebuilt environ (everything Django does, but no socket or WSGI server)."""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.harness import send

PATHS = ("200", "404", "400", "500")
INVALID_BODY = json.dumps({"name": "", "quantity": "many"}).encode()
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"  # what the errors+trace stack's requests carry
CODES = {"404": "not_found", "400": "validation_error", "500": "internal_error"}
TYPES = {"404": "client_error", "400": "validation_error", "500": "server_error"}
BATCH = 8  # requests between two clock reads


def start_response(*args: Any) -> Any:
    return None


def callers(stack: str) -> dict[str, Callable[[], Any]]:
    """Per path, a function that sends the request through the stack and returns the response."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    handler, factory = WSGIHandler(), RequestFactory()
    invalid = factory.post("/invalid", data=INVALID_BODY, content_type="application/json")
    requests = {
        "200": (factory.get("/ok").environ, b""),
        "404": (factory.get("/missing").environ, b""),
        "400": (invalid.environ, INVALID_BODY),
        "500": (factory.get("/crash").environ, b""),
    }

    def caller(environ: dict[str, Any], body: bytes) -> Callable[[], Any]:
        base = {**environ, "HTTP_ACCEPT": "application/json"}
        if stack == "errors+trace":
            base["HTTP_TRACEPARENT"] = TRACEPARENT

        def call() -> Any:
            response = handler({**base, "wsgi.input": io.BytesIO(body)}, start_response)
            for _chunk in response:
                pass
            response.close()  # fires request_finished, as a WSGI server would
            return response

        return call

    return {path: caller(*request) for path, request in requests.items()}


def check(stack: str, path: str, response: Any) -> None:
    """Exit with a message when the answer is not what the stack should give."""
    content, header = response.content, response.get("X-Correlation-ID")
    is_json = response.get("Content-Type", "").startswith("application/json")
    body: Any = json.loads(content) if is_json else None
    if stack == "bare":
        keys = {"200": {"status", "items", "name"}, "404": {"detail"}, "400": {"name", "quantity"}}
        ok = b"Server Error (500)" in content if path == "500" else set(body or ()) == keys[path]
    elif path == "200":
        ok = isinstance(body, dict) and body.get("status") == "ok"
    elif stack == "alternative":
        errors = body.get("errors") if isinstance(body, dict) else None
        ok = bool(errors) and body["type"] == TYPES[path] and set(body) == {"type", "errors"}
        ok = ok and all({"code", "detail", "attr"} <= set(e) for e in errors or ())
        ok = ok and (path != "400" or {e["attr"] for e in errors or ()} == {"name", "quantity"})
    else:
        error: Any = body.get("error") if isinstance(body, dict) else None
        ok = isinstance(error, dict) and set(body) == {"error"} and error["code"] == CODES[path]
        ok = ok and isinstance(error["message"], str) and error["correlation_id"] == header
        fields = (error or {}).get("details", {}).get("field_errors", {}) if path == "400" else {}
        ok = ok and (path != "400" or set(fields) == {"name", "quantity"})
    if stack.startswith("errors"):
        traced = response.get("traceresponse")
        ok = ok and bool(header) and (traced is not None) == (stack == "errors+trace")
        ok = ok and (traced is None or header == TRACE_ID and traced.split("-")[1] == TRACE_ID)
    elif stack == "alternative":
        ok = ok and bool(response.get("Correlation-ID"))
    if response.status_code != int(path) or not ok:
        sys.exit(f"overhead: {stack}, path {path}: {response.status_code} {content[:300]!r}")


def measure(call: Callable[[], Any], seconds: float) -> float:
    """Requests/s of `call` over about `seconds`."""
    gc.collect()  # every measurement starts from the same collector state
    clock, count = time.perf_counter, 0
    start = clock()
    while True:
        for _ in range(BATCH):
            call()
        count += BATCH
        if (now := clock()) >= start + seconds:
            return count / (now - start)


def main() -> None:
    stack, warmup = sys.argv[1], float(sys.argv[2])
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.stacks.settings", BENCH_STACK=stack)
    import django
    from django.core import checks

    django.setup(set_prefix=False)
    if serious := [str(m) for m in checks.run_checks() if m.is_serious()]:
        sys.exit(f"overhead: stack {stack!r}: system checks failed: {serious}")
    from bench.stacks import LOG_SINK

    calls, log_lines = callers(stack), {}
    for path in PATHS:
        before = LOG_SINK.writes
        check(stack, path, calls[path]())
        log_lines[path] = LOG_SINK.writes - before
    for path in PATHS:
        measure(calls[path], warmup)
    send({"log_lines": log_lines})
    for line in sys.stdin:
        command = json.loads(line)
        send({"rate": measure(calls[command["path"]], command["seconds"])})


if __name__ == "__main__":
    main()
