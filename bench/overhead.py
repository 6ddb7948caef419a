"""Requests/s through Django's whole request path: bare DRF vs `errors` vs the usual alternative.

Run from the repository root::

    .venv/bin/python bench/overhead.py [--seconds S] [--rounds R]
    .venv/bin/python bench/overhead.py --stacks errors,errors+trace --rounds 20 --seconds 0.5

Stacks (settings in bench/overhead_stacks/settings_<stack>.py, same views and URLs):

  bare         plain DRF, its default exception handler, Django's default loggers with a plain
               logging.Formatter;
  errors       this repository's `errors` app: CorrelationIdMiddleware first, its DRF exception
               handler, handler400/403/404/500 from errors.views, build_logging_config(json),
               Prometheus metrics off (ERRORS_ENABLE_MONITORING = False);
  errors+metrics  the same with metrics on (the default);
  alternative  drf-standardized-errors + django-guid (middleware and log filter) +
               python-json-logger's OrjsonFormatter;
  errors+trace the `errors` stack with trace propagation on: its requests carry a W3C
               `traceparent`, so the middleware continues the trace (the correlation id is the
               trace id), every log line gets `trace_id` and `span_id`, and the response
               `traceresponse` (ERRORS_TRACE_RESPONSE_HEADER). Compared with `errors`, whose
               requests carry none, it gives what trace propagation costs per request.

Every stack logs to the same kind of null sink (overhead_stacks.sink.NullSink) at INFO.

Paths: 200 (a small dict), 404 (NotFound raised), 400 (a JSON body that fails a two-field
serializer), 500 (RuntimeError raised in the view).

Django settings are per process, so each stack runs in a worker subprocess
(`overhead.py --worker STACK`). A worker configures Django, builds a WSGIHandler, sends every
path through it once and checks the status code and body shape (exiting non-zero with a message
if anything is off), warms up, then answers `measure PATH SECONDS` lines on stdin with one JSON
line holding the requests/s. A request is a call of the WSGIHandler with a copy of a prebuilt
environ (fresh wsgi.input), a no-op start_response, the body consumed and response.close()
called: request_started/finished signals, every middleware, URL resolution, the view, the
exception handler, rendering and logging all run; only socket and WSGI-server work is left out.

The parent interleaves the stacks within every round, path by path (rotating which stack goes
first), so that the three measurements of a path are close together in time and machine noise
is spread over all stacks; it reports the best round per stack and path, and for trace
propagation the extra microseconds per request of errors+trace over errors in each round (the
range over rounds, and the difference of the best rounds). Nothing timed is asserted: it prints
the table and the target lines and exits 0 (1 only when a worker fails).

`--profile STACK [--path 200]` runs cProfile over one path of one stack in this process instead.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# The repository root for `errors`, bench/ for `overhead_stacks`; run as a script, neither is
# on sys.path by itself.
for _entry in (str(REPO_ROOT), str(BENCH_DIR)):
    if _entry not in sys.path:
        sys.path.insert(0, _entry)

STACKS = ("bare", "errors", "errors+metrics", "alternative", "errors+trace")
PATHS = ("200", "404", "400", "500")
PATH_LABELS = {"200": "200 ok", "404": "404 NotFound", "400": "400 invalid", "500": "500 crash"}

# Worker replies start with this, so that anything else a library prints on stdout cannot be
# mistaken for (or corrupt) the protocol.
REPLY = "OVERHEAD "

# Requests between two clock reads: reading the clock per request would add a visible constant
# to the fastest path; per batch it is noise.
BATCH = 8

INVALID_BODY = json.dumps({"name": "", "quantity": "many"}).encode()

# What the requests of the errors+trace stack carry.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


# --------------------------------------------------------------------------------------------
# Worker side: runs inside a process whose Django settings are one stack's.
# --------------------------------------------------------------------------------------------


class SanityError(Exception):
    """A stack answered a path with the wrong status or body: the numbers would be meaningless."""


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    """A WSGI start_response that keeps nothing; returns the legacy write() callable."""
    return _discard


def _discard(data: bytes) -> None:
    """The write() callable of `_start_response`."""


def setup_django(stack: str) -> Any:
    """Configure Django for `stack` and return a WSGIHandler (middleware loaded once)."""
    module = stack.replace("+", "_")
    os.environ["DJANGO_SETTINGS_MODULE"] = f"overhead_stacks.settings_{module}"
    import django

    django.setup(set_prefix=False)
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def build_requests(stack: str) -> dict[str, tuple[dict[str, Any], bytes]]:
    """The environ and body of each path, built once; RequestFactory gives a complete environ."""
    from django.test import RequestFactory

    factory = RequestFactory()
    requests = {
        "200": (factory.get("/ok").environ, b""),
        "404": (factory.get("/missing").environ, b""),
        "400": (
            factory.post("/invalid", data=INVALID_BODY, content_type="application/json").environ,
            INVALID_BODY,
        ),
        "500": (factory.get("/crash").environ, b""),
    }
    for environ, _body in requests.values():
        environ["HTTP_ACCEPT"] = "application/json"
        if stack == "errors+trace":
            environ["HTTP_TRACEPARENT"] = TRACEPARENT
    return requests


def make_caller(handler: Any, environ: dict[str, Any], body: bytes) -> Callable[[], Any]:
    """A function that sends one request through `handler` and returns the finished response.

    The environ is copied because WSGIRequest writes into it (a server builds a new one per
    request anyway), and wsgi.input must be a fresh stream each time.
    """
    base = dict(environ)
    base.pop("wsgi.input", None)
    bytes_io = io.BytesIO

    def call() -> Any:
        env = base.copy()
        env["wsgi.input"] = bytes_io(body)
        response = handler(env, _start_response)
        for _chunk in response:
            pass
        close = getattr(response, "close", None)
        if close is not None:
            # Fires request_finished, as a WSGI server would.
            close()
        return response

    return call


def _json_body(response: Any, path: str) -> Any:
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        raise SanityError(f"{path}: Content-Type is {content_type!r}, not application/json")
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise SanityError(f"{path}: body is not JSON: {response.content[:200]!r}") from exc


def _check_errors_envelope(response: Any, path: str, body: Any, code: str) -> None:
    header = response.get("X-Correlation-ID")
    if not header:
        raise SanityError(f"{path}: no X-Correlation-ID header")
    traced = response.get("traceresponse")
    if traced is not None and (header != TRACE_ID or traced.split("-")[1:2] != [TRACE_ID]):
        raise SanityError(f"{path}: the trace was not continued: {header!r}, {traced!r}")
    if path == "200":
        return
    if not (isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict)):
        raise SanityError(f"{path}: body is not the {{'error': {{...}}}} envelope: {body!r}")
    error = body["error"]
    if error.get("code") != code or not isinstance(error.get("message"), str):
        raise SanityError(f"{path}: expected code {code!r} and a message, got {error!r}")
    if error.get("correlation_id") != header:
        raise SanityError(f"{path}: correlation_id {error.get('correlation_id')!r} != header")
    if path == "400":
        fields = set((error.get("details") or {}).get("field_errors") or {})
        if fields != {"name", "quantity"}:
            raise SanityError(f"400: expected field_errors for name and quantity, got {error!r}")


def _check_standardized(response: Any, path: str, body: Any, error_type: str) -> None:
    if not response.get("Correlation-ID"):
        raise SanityError(f"{path}: no Correlation-ID header from django-guid")
    if path == "200":
        return
    errors = body.get("errors") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict)
        or set(body) != {"type", "errors"}
        or body["type"] != error_type
        or not isinstance(errors, list)
        or not errors
        or not all(isinstance(e, dict) and {"code", "detail", "attr"} <= set(e) for e in errors)
    ):
        raise SanityError(
            f"{path}: not drf-standardized-errors' {error_type!r} format "
            f"({{'type', 'errors': [{{'code', 'detail', 'attr'}}]}}): {body!r}"
        )
    if path == "400" and {e["attr"] for e in errors} != {"name", "quantity"}:
        raise SanityError(f"400: expected errors for name and quantity, got {body!r}")


def _check_bare(response: Any, path: str) -> None:
    if path == "500":
        # DRF's default handler lets RuntimeError through to Django's handler500 (HTML).
        if b"Server Error (500)" not in response.content:
            raise SanityError(f"500: expected Django's 500 page, got {response.content[:200]!r}")
        return
    body = _json_body(response, path)
    expected = {"404": {"detail"}, "400": {"name", "quantity"}}.get(path)
    if expected is not None and (not isinstance(body, dict) or set(body) != expected):
        raise SanityError(f"{path}: expected DRF's default body with keys {expected}, got {body!r}")


# Expected error code (`errors`) and error type (drf-standardized-errors) per path.
_ERRORS_CODES = {"404": "not_found", "400": "validation_error", "500": "internal_error"}
_STANDARDIZED_TYPES = {"404": "client_error", "400": "validation_error", "500": "server_error"}


def sanity_check(stack: str, callers: dict[str, Callable[[], Any]]) -> dict[str, int]:
    """Send each path once and check what came back; return the log lines each one wrote.

    Django's system checks run first, so that a stack the packages themselves consider
    misconfigured (e.g. errors.E001/E002) is refused rather than measured.
    """
    from django.core import checks
    from overhead_stacks.sink import LOG_SINK

    serious = [m for m in checks.run_checks() if m.is_serious()]
    if serious:
        raise SanityError("system checks failed: " + "; ".join(str(m) for m in serious))
    log_lines = {}
    for path in PATHS:
        before = LOG_SINK.writes
        response = callers[path]()
        log_lines[path] = LOG_SINK.writes - before
        if response.status_code != int(path):
            raise SanityError(
                f"{path}: status {response.status_code}, body {response.content[:300]!r}"
            )
        if stack == "bare":
            _check_bare(response, path)
            continue
        body = _json_body(response, path)
        if path == "200" and body.get("status") != "ok":
            raise SanityError(f"200: unexpected body {body!r}")
        if stack.startswith("errors"):
            if (stack == "errors+trace") != ("traceresponse" in response):
                raise SanityError(f"{path}: traceresponse expected only from errors+trace")
            _check_errors_envelope(response, path, body, _ERRORS_CODES.get(path, ""))
        else:
            _check_standardized(response, path, body, _STANDARDIZED_TYPES.get(path, ""))
    return log_lines


def measure(call: Callable[[], Any], seconds: float) -> float:
    """Requests/s of `call` over about `seconds`."""
    # Start every measurement with the same garbage collector state.
    gc.collect()
    clock = time.perf_counter
    count = 0
    start = clock()
    deadline = start + seconds
    while True:
        for _ in range(BATCH):
            call()
        count += BATCH
        now = clock()
        if now >= deadline:
            return count / (now - start)


def worker_main(stack: str, warmup: float) -> int:
    """Serve `measure PATH SECONDS` lines on stdin until EOF or `quit`."""
    try:
        handler = setup_django(stack)
        callers = {
            path: make_caller(handler, *req) for path, req in build_requests(stack).items()
        }
        log_lines = sanity_check(stack, callers)
    except SanityError as exc:
        print(f"overhead.py: stack {stack!r} failed its sanity check: {exc}", file=sys.stderr)
        return 2
    for path in PATHS:
        measure(callers[path], warmup)
    print(REPLY + json.dumps({"ready": stack, "log_lines": log_lines}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        if command[0] == "measure":
            rate = measure(callers[command[1]], float(command[2]))
            print(REPLY + json.dumps({"rate": rate}), flush=True)
    return 0


def profile_main(stack: str, path: str, seconds: float) -> int:
    """cProfile one path of one stack in this process and print the top functions."""
    import cProfile
    import pstats

    try:
        handler = setup_django(stack)
        callers = {p: make_caller(handler, *req) for p, req in build_requests(stack).items()}
        sanity_check(stack, callers)
    except SanityError as exc:
        print(f"overhead.py: stack {stack!r} failed its sanity check: {exc}", file=sys.stderr)
        return 2
    call = callers[path]
    rate = measure(call, max(seconds, 0.5))
    count = max(1000, int(rate * seconds))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call()
    profiler.disable()
    print(f"{stack} {path}: {rate:,.0f} req/s unprofiled; profile of {count} requests")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    return 0


# --------------------------------------------------------------------------------------------
# Parent side: starts the workers, interleaves the rounds, prints the table.
# --------------------------------------------------------------------------------------------


class WorkerFailed(Exception):
    """A worker exited or answered something unexpected."""


class Worker:
    """One stack's worker subprocess and its line protocol."""

    def __init__(self, stack: str, warmup: float) -> None:
        """Start the worker; it configures Django, self-checks and warms up on its own."""
        self.stack = stack
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                stack,
                "--warmup",
                str(warmup),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )

    def read_reply(self) -> dict[str, Any]:
        """The next protocol line from the worker, decoded."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
            # Not ours: show it rather than lose it, on stderr to keep our table clean.
            print(f"[{self.stack}] {line.rstrip()}", file=sys.stderr)
        code = self.process.wait()
        raise WorkerFailed(f"worker {self.stack!r} exited with status {code}")

    def measure(self, path: str, seconds: float) -> float:
        """Ask for one measurement of `path`; return its requests/s."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"measure {path} {seconds}\n")
        self.process.stdin.flush()
        return float(self.read_reply()["rate"])

    def close(self) -> None:
        """Tell the worker to quit and wait for it (kill it if it does not)."""
        try:
            if self.process.stdin is not None and self.process.poll() is None:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def print_trace_cost(history: dict[str, dict[str, list[float]]]) -> None:
    """Microseconds per request that trace propagation adds: errors+trace over errors.

    Each round measures both stacks back to back, so a round's difference is a paired sample;
    the median of those is the figure least moved by noise from the rest of the machine.
    """
    print("\nTrace propagation (errors+trace vs errors): extra microseconds per request")
    print(
        f"{'path':<14}{'median':>10}{'per round, min..max':>26}{'best vs best':>14}"
        f"{'ratio':>8}"
    )
    for path in PATHS:
        plain, traced = history["errors"][path], history["errors+trace"][path]
        costs = [1e6 / t - 1e6 / p for p, t in zip(plain, traced, strict=True)]
        best_cost = 1e6 / max(traced) - 1e6 / max(plain)
        print(
            f"{PATH_LABELS[path]:<14}{f'{statistics.median(costs):+.1f} us':>10}"
            f"{f'{min(costs):+.1f} .. {max(costs):+.1f} us':>26}"
            f"{f'{best_cost:+.1f} us':>14}{max(traced) / max(plain):>7.2f}x"
        )


def print_report(
    best: dict[str, dict[str, float]],
    log_lines: dict[str, dict[str, int]],
    rounds: int,
    seconds: float,
) -> None:
    """The table of best req/s, the ratios, the log lines per request and the target lines."""
    print(f"\nBest of {rounds} rounds, {seconds:g} s per measurement; requests/s, higher is better")
    header = (
        f"{'path':<14}"
        + "".join(f"{stack:>15}" for stack in STACKS)
        + f"{'errors/bare':>13}{'errors/alt':>12}"
    )
    print(header)
    print("-" * len(header))
    for path in PATHS:
        row = f"{PATH_LABELS[path]:<14}" + "".join(f"{best[s][path]:>15,.0f}" for s in STACKS)
        row += f"{best['errors'][path] / best['bare'][path]:>12.2f}x"
        row += f"{best['errors'][path] / best['alternative'][path]:>11.2f}x"
        print(row)
    print("\nLog lines written per request (sanity pass)")
    print(f"{'path':<14}" + "".join(f"{stack:>15}" for stack in STACKS))
    for path in PATHS:
        print(f"{PATH_LABELS[path]:<14}" + "".join(f"{log_lines[s][path]:>15}" for s in STACKS))
    ratio_200 = best["errors"]["200"] / best["bare"]["200"]
    ratio_metrics = best["errors+metrics"]["200"] / best["bare"]["200"]
    every = all(best["errors"][p] >= best["alternative"][p] for p in PATHS)
    print()
    print(f"200 path: errors/bare = {ratio_200:.2f}x (target >= 0.95)")
    print(f"200 path, metrics on: errors+metrics/bare = {ratio_metrics:.2f}x (target >= 0.90)")
    print(f"every path errors/alternative >= 1.00: {'yes' if every else 'no'}")


def parent_main(
    seconds: float, rounds: int, warmup: float, stacks: tuple[str, ...] = STACKS
) -> int:
    """Run the interleaved rounds over persistent workers and print the report."""
    # Workers start together: their setup and warm-up are not measured.
    workers = {stack: Worker(stack, warmup) for stack in stacks}
    try:
        log_lines = {stack: workers[stack].read_reply()["log_lines"] for stack in stacks}
        best = {stack: dict.fromkeys(PATHS, 0.0) for stack in stacks}
        history: dict[str, dict[str, list[float]]] = {
            stack: {path: [] for path in PATHS} for stack in stacks
        }
        print("req/s per round, " + "/".join(stacks) + " for each path:")
        for round_index in range(rounds):
            parts = []
            for path_index, path in enumerate(PATHS):
                # Rotate who goes first so that no stack always runs right after the same one
                # (or always first, after the pause while the parent prints).
                shift = (round_index + path_index) % len(stacks)
                rates = {}
                for stack in stacks[shift:] + stacks[:shift]:
                    rates[stack] = workers[stack].measure(path, seconds)
                    best[stack][path] = max(best[stack][path], rates[stack])
                    history[stack][path].append(rates[stack])
                parts.append(f"{path} " + "/".join(f"{rates[s]:,.0f}" for s in stacks))
            print(f"round {round_index + 1}/{rounds}: " + "  ".join(parts), flush=True)
    except WorkerFailed as exc:
        print(f"overhead.py: {exc}", file=sys.stderr)
        return 1
    finally:
        for worker in workers.values():
            worker.close()
    if set(stacks) == set(STACKS):
        print_report(best, log_lines, rounds, seconds)
    if {"errors", "errors+trace"} <= set(stacks):
        print_trace_cost(history)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run as the parent, a worker or the profiler."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--warmup", type=float, default=0.3, help="warm-up seconds per path")
    parser.add_argument("--worker", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--profile", choices=STACKS, help="cProfile one stack in-process")
    parser.add_argument("--path", choices=PATHS, default="200", help="path for --profile")
    parser.add_argument(
        "--stacks",
        default=",".join(STACKS),
        help="comma-separated stacks to compare (the full table needs all; "
        "`errors,errors+trace` measures trace propagation alone)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.warmup)
    if args.profile:
        return profile_main(args.profile, args.path, args.seconds)
    stacks = tuple(args.stacks.split(","))
    unknown = set(stacks) - set(STACKS)
    if unknown or not stacks:
        parser.error(f"unknown stacks {sorted(unknown)}; choose from {', '.join(STACKS)}")
    return parent_main(args.seconds, args.rounds, args.warmup, stacks)


if __name__ == "__main__":
    sys.exit(main())
