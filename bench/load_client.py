"""bench/load's client, in a process of its own: minimal requests written by hand on keep-alive
connections (a general client would cost more CPU than the answers it measures)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import repeat
from typing import Any

from bench.harness import cpu_seconds, percentile, send

SCENARIOS = ("bare", "get", "not_found", "list", "create", "duplicate", "invalid", "mix")
MIX_WEIGHTS = {"get": 30, "list": 10, "create": 15, "not_found": 20, "duplicate": 10, "invalid": 10}
MIX_WEIGHTS["bare"] = 5
GRACE = 20.0  # seconds a scenario may overrun before the client gives up: the server hangs
Planned = tuple[bytes, int, bytes]  # the request, the expected status, a marker in the body


class Broken(Exception):
    """The connection broke, or the answer is not HTTP/1.1 with a Content-Length."""


class Connection:
    def __init__(self, port: int) -> None:
        self.port, self.opened = port, 0
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        """Status, lower-cased head and body of one answer."""
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection("127.0.0.1", self.port)
                self.opened += 1
            reader, writer = self.streams
            writer.write(data)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            start = head.index(b"\r\ncontent-length:") + 17
            body = await reader.readexactly(int(head[start : head.index(b"\r\n", start)]))
            if not head.startswith(b"http/1.1 ") or b"\r\nconnection: close" in head:
                self.close()
            return int(head[9:12]), head, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise Broken(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
        self.streams = None


def planners(
    port: int, token: str, fixture: tuple[str, str] | None
) -> dict[str, Callable[[], Planned]]:
    """Per scenario, a function giving the next request (the fixture: its id and name)."""
    headers = (
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
    )
    run, counter = uuid.uuid4().hex[:8], iter(range(1, 1 << 62))  # unique names in every run

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode()

    def post(name: str) -> bytes:
        body = json.dumps({"name": name}).encode()
        head = f"POST /api/workspaces/ HTTP/1.1\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def create() -> Planned:
        name = f"bench-{run}-{next(counter)}"
        return post(name), 201, name.encode()

    if fixture is None:
        return {"fixture": lambda: (post(f"bench-fixture-{run}"), 201, b'"id":')}
    fixture_id, name = fixture
    fixed: dict[str, Planned] = {
        "bare": (get("/bench/bare/"), 200, b'"ok":true'),
        "get": (get(f"/api/workspaces/{fixture_id}/"), 200, fixture_id.encode()),
        "list": (get("/api/workspaces/?limit=20"), 200, b'"results":'),
        "duplicate": (post(name), 409, b'"code":"workspace_name_conflict"'),
        "invalid": (post(""), 400, b'"code":"validation_error"'),
    }
    plans: dict[str, Callable[[], Planned]] = {k: repeat(p).__next__ for k, p in fixed.items()}
    missing = b'"code":"not_found"'
    plans["not_found"] = lambda: (get(f"/api/workspaces/{uuid.uuid4()}/"), 404, missing)
    plans["create"] = create
    chooser = random.Random(1234)  # seeded: two runs send the same sequence of kinds
    kinds, weights = list(MIX_WEIGHTS), list(MIX_WEIGHTS.values())
    plans["mix"] = lambda: plans[chooser.choices(kinds, weights)[0]]()
    return plans


def verdict(planned: Planned, status: int, head: bytes, body: bytes) -> str | None:
    """What is wrong with an answer, if anything."""
    _data, expected, marker = planned
    if status != expected:
        return f"status {status} (expected {expected}): {body[:200]!r}"
    if marker not in body:
        return f"status {status} without {marker!r} in body: {body[:200]!r}"
    if b"\r\nx-correlation-id:" not in head:
        return f"status {status} without X-Correlation-ID: {head[:200]!r}"
    return None


class Tally:
    def __init__(self, budget: int) -> None:
        self.budget = budget  # requests left in this phase, on all connections
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.broken, self.mismatches = 0, 0
        self.samples: list[str] = []

    def unexpected(self, description: str) -> None:
        self.mismatches += 1
        if len(self.samples) < 3:
            self.samples.append(description)


async def drive(
    connection: Connection, plan: Callable[[], Planned], end: float, tally: Tally
) -> None:
    """Send requests on one connection until `end` or until the phase's budget is spent."""
    clock = time.perf_counter
    while tally.budget > 0 and clock() < end:
        tally.budget -= 1
        planned = plan()
        started = clock()
        try:
            status, head, body = await connection.request(planned[0])
        except Broken as exc:
            tally.broken += 1
            tally.unexpected(f"broken connection: {exc}")
            await asyncio.sleep(0.01)  # a refused connection would spin through the budget
            continue
        tally.latencies.append(clock() - started)
        tally.statuses[status] += 1
        if problem := verdict(planned, status, head, body):
            tally.unexpected(problem)


async def scenario(
    name: str, plan: Callable[[], Planned], conns: list[Connection], config: dict[str, Any]
) -> dict[str, Any]:
    """Warm up, then measure one scenario on every connection; its summary."""
    clock = time.perf_counter
    async with asyncio.timeout(config["warmup"] + config["seconds"] + GRACE):
        for seconds in (config["warmup"], config["seconds"]):
            tally = Tally(config["max_requests"])
            server_before, client_before = cpu_seconds(config["server_pid"]), time.process_time()
            started = clock()
            await asyncio.gather(*(drive(c, plan, started + seconds, tally) for c in conns))
            elapsed = clock() - started
    server_cpu = cpu_seconds(config["server_pid"]) - server_before
    client_cpu = time.process_time() - client_before
    ordered, count = sorted(tally.latencies), len(tally.latencies)
    return {
        "scenario": name, "requests": count, "rps": count / elapsed,
        **{f"p{p}": percentile(ordered, p / 100) * 1000 for p in (50, 90, 99)},
        "max": ordered[-1] * 1000 if ordered else float("nan"),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "mismatches": tally.mismatches, "broken": tally.broken, "samples": tally.samples,
        "server_5xx": sum(v for k, v in tally.statuses.items() if k >= 500),
        "server_cpu_ms": server_cpu * 1000 / count if count else None,
        "client_cpu": client_cpu / elapsed, "budget_hit": tally.budget <= 0,
        "opened": sum(c.opened for c in conns),  # more than C: keep-alive connections closed
    }  # fmt: skip


async def run(config: dict[str, Any]) -> None:
    port, token, first = config["port"], config["token"], Connection(config["port"])
    planned = planners(port, token, None)["fixture"]()
    status, _head, body = await first.request(planned[0])
    if status != 201:
        return send({"fatal": f"fixture workspace: status {status}, body {body[:300]!r}"})
    fixture = json.loads(body)
    plans = planners(port, token, (fixture["id"], fixture["name"]))
    sanity = []
    for name in SCENARIOS[:-1]:
        planned = plans[name]()
        try:
            status, head, body = await first.request(planned[0])
            ok = verdict(planned, status, head, body) is None
            text = body[:240].decode("utf-8", "replace")
            sanity.append({"scenario": name, "ok": ok, "status": status, "body": text})
        except Broken as exc:
            sanity.append({"scenario": name, "ok": False, "status": None, "body": str(exc)})
    send({"fixture": fixture["id"], "sanity": sanity})
    first.close()
    connections = [Connection(port) for _ in range(config["connections"])]
    for name in config["scenarios"]:
        try:
            send(await scenario(name, plans[name], connections, config))
        except TimeoutError:
            return send({"fatal": f"scenario {name} did not finish in time; the server hangs"})


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1])))
