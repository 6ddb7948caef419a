"""Requests/s through Django's whole request path: bare DRF vs `errors` vs the usual alternative
(bench/stacks/settings.py), each stack in a worker of its own, paths measured in interleaved
rounds, rotating which stack goes first; best round per path, trace propagation's cost a round.
A worker calls a WSGIHandler with a copy of a prebuilt environ per request (everything Django
does, but no socket or WSGI server)."""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.harness import BenchFailed, Child, run, send
from bench.stacks import LOG_SINK

PATHS = ("200", "404", "400", "500")
STACKS = ("bare", "errors", "errors+metrics", "alternative", "errors+trace")
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
    from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
    from django.test import RequestFactory

    trace = {"traceparent": TRACEPARENT} if stack == "errors+trace" else {}
    handler, factory = WSGIHandler(), RequestFactory(headers={"Accept": "application/json"} | trace)
    get, invalid = factory.get, factory.post("/invalid", INVALID_BODY, "application/json")
    requests = {"200": get("/ok"), "404": get("/missing"), "400": invalid, "500": get("/crash")}

    def caller(request: WSGIRequest) -> Callable[[], Any]:
        environ, body = request.environ, request.body

        def call() -> Any:
            response = handler({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
            for _chunk in response:
                pass
            response.close()  # fires request_finished, as a WSGI server would
            return response

        return call

    return {path: caller(request) for path, request in requests.items()}


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


def worker(config: dict[str, Any]) -> None:
    """One stack's worker: the sanity pass, the warm-up, then a measurement per command."""
    stack, warmup = config["stack"], config["warmup"]
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.stacks.settings", BENCH_STACK=stack)
    import django
    from django.core import checks

    django.setup(set_prefix=False)
    if serious := [str(m) for m in checks.run_checks() if m.is_serious()]:
        sys.exit(f"overhead: stack {stack!r}: system checks failed: {serious}")
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


LABELS = {"200": "200 ok", "404": "404 NotFound", "400": "400 invalid", "500": "500 crash"}
# The performance targets, metrics on: at least these times bare DRF's requests/s, per path.
TARGETS = {"200": 0.97, "404": 1.0, "400": 1.0}
TARGET_VS_ALTERNATIVE = 1.3  # on every path
Table = dict[str, dict[str, list[float]]]


def print_report(
    history: Table, log_lines: dict[str, dict[str, int]], rounds: int, seconds: float
) -> None:
    best = {stack: {path: max(history[stack][path]) for path in PATHS} for stack in STACKS}
    print(f"\nBest of {rounds} rounds, {seconds:g} s per measurement; requests/s, higher is better")
    header = f"{'path':<14}" + "".join(f"{s:>15}" for s in STACKS)
    header += f"{'errors/bare':>13}{'errors/alt':>12}"
    print(header + "\n" + "-" * len(header))
    for path in PATHS:
        print(
            f"{LABELS[path]:<14}" + "".join(f"{best[s][path]:>15,.0f}" for s in STACKS)
            + f"{best['errors'][path] / best['bare'][path]:>12.2f}x"
            + f"{best['errors'][path] / best['alternative'][path]:>11.2f}x"
        )  # fmt: skip
    print("\nLog lines written per request (sanity pass)")
    print(f"{'path':<14}" + "".join(f"{stack:>15}" for stack in STACKS))
    for path in PATHS:
        print(f"{LABELS[path]:<14}" + "".join(f"{log_lines[s][path]:>15}" for s in STACKS))
    print("\nTargets, metrics on (errors+metrics)")
    for path, target in TARGETS.items():
        ratio = best["errors+metrics"][path] / best["bare"][path]
        print(f"{LABELS[path]:<14} /bare {ratio:.2f}x (target >= {target:.2f})")
    for path in PATHS:
        ratio = best["errors+metrics"][path] / best["alternative"][path]
        print(f"{LABELS[path]:<14} /alternative {ratio:.2f}x (target >= {TARGET_VS_ALTERNATIVE})")


def print_trace_cost(history: Table) -> None:
    print("\nTrace propagation (errors+trace vs errors): extra microseconds per request")
    print(f"{'path':<14}{'median':>10}{'per round, min..max':>26}{'best vs best':>14}{'ratio':>8}")
    for path in PATHS:
        plain, traced = history["errors"][path], history["errors+trace"][path]
        costs = [1e6 / t - 1e6 / p for p, t in zip(plain, traced, strict=True)]
        print(
            f"{LABELS[path]:<14}{f'{statistics.median(costs):+.1f} us':>10}"
            f"{f'{min(costs):+.1f} .. {max(costs):+.1f} us':>26}"
            f"{f'{1e6 / max(traced) - 1e6 / max(plain):+.1f} us':>14}"
            f"{max(traced) / max(plain):>7.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--warmup", type=float, default=0.3, help="warm-up seconds per path")
    parser.add_argument("--stacks", default=",".join(STACKS), help="comma-separated stacks")
    args = parser.parse_args()
    if unknown := set(stacks := tuple(args.stacks.split(","))) - set(STACKS):
        parser.error(f"unknown stacks {sorted(unknown)}")
    # Workers start together: their setup and warm-up are not measured.
    workers = {stack: Child("bench.overhead", stack=stack, warmup=args.warmup) for stack in stacks}
    history: Table = {stack: {path: [] for path in PATHS} for stack in stacks}
    try:
        log_lines = {stack: workers[stack].reply()["log_lines"] for stack in stacks}
        print("req/s per round, " + "/".join(stacks) + " for each path:")
        for round_index in range(args.rounds):
            parts = []
            for path_index, path in enumerate(PATHS):
                shift = (round_index + path_index) % len(stacks)
                for stack in stacks[shift:] + stacks[:shift]:
                    rate = workers[stack].call("measure", path=path, seconds=args.seconds)["rate"]
                    history[stack][path].append(rate)
                parts.append(f"{path} " + "/".join(f"{history[s][path][-1]:,.0f}" for s in stacks))
            print(f"round {round_index + 1}/{args.rounds}: " + "  ".join(parts), flush=True)
    except BenchFailed as exc:
        print(f"overhead: {exc}")
        return 1
    finally:
        for worker in workers.values():
            worker.close()
    if set(stacks) == set(STACKS):
        print_report(history, log_lines, args.rounds, args.seconds)
    if {"errors", "errors+trace"} <= set(stacks):
        print_trace_cost(history)
    return 0


if __name__ == "__main__":
    run(main, worker)
