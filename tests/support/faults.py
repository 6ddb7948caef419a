"""Concurrent load against a running service while its database or Redis fails, and what it saw.

    load = Load(server.url, token, clients=6)
    recovered = load.outage(proxy.cut, proxy.restore, seconds=4)   # or proxy.hang, proxy.resume
    for phase in load.phases():                                    # before, fault, recovery
        print(summary(phase))

Each client loops over a list request and a create of a workspace with a fresh name, and every
answer is kept with when it was sent and how long it took. `phases()` sums them up by phase (the
marks split the run), and `lost_writes()` compares the acknowledged creates (201) with what the
database holds afterwards. The fault-injection tests (tests/test_degradation.py) assert the
contract on these; `bench/degradation.py` prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

LIST = "/api/workspaces/"


@dataclass(frozen=True)
class Answer:
    """One request of the load and what came back (status 0: no answer, `code` says why)."""

    kind: str  # "read" or "write"
    sent: float  # seconds since the load started
    seconds: float
    status: int
    code: str | None
    retry_after: str | None
    name: str | None = None  # the workspace a write created


@dataclass
class PhaseReport:
    """The answers of one phase of a run."""

    name: str
    answers: list[Answer] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.answers)

    def by_outcome(self) -> Counter[str]:
        """`"201"`, `"503 db_connection_error"`, … and how many answers had it."""
        return Counter(f"{a.status} {a.code}" if a.code else str(a.status) for a in self.answers)

    def server_errors(self) -> list[Answer]:
        """Answers that break the contract: a 500, or no answer at all."""
        return [a for a in self.answers if a.status == 0 or a.status == 500]

    def unavailable_without_retry_after(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 503 and not a.retry_after]

    def percentile(self, p: float) -> float:
        if not self.answers:
            return 0.0
        ordered = sorted(a.seconds for a in self.answers)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def slowest(self) -> float:
        return max((a.seconds for a in self.answers), default=0.0)


class Load:
    """`clients` concurrent API clients of one user, in a thread with an event loop of its own."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        clients: int = 6,
        write_every: int = 2,
        timeout: float = 30.0,
        pause: float = 0.02,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.clients = clients
        self.write_every = write_every
        self.timeout = timeout
        self.pause = pause
        self.answers: list[Answer] = []
        self.marks: list[tuple[str, float]] = [("before", 0.0)]
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- running ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        """Run the load while the block runs; stop it (and wait for the answers) on exit."""
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="fault-load", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(self.timeout + 5)

    def now(self) -> float:
        return time.monotonic() - self._started

    def mark(self, phase: str) -> None:
        """Answers to requests sent from now on belong to `phase`."""
        self.marks.append((phase, self.now()))

    def wait_for_success(self, timeout: float, kind: str = "write") -> float | None:
        """Seconds from the last mark until a request of `kind` sent after it succeeded."""
        since = self.marks[-1][1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                done = [
                    a for a in self.answers if a.kind == kind and a.sent >= since and a.status < 300
                ]
            if done:
                return min(a.sent + a.seconds for a in done) - since
            time.sleep(0.05)
        return None

    def outage(
        self,
        start: Callable[[], None],
        stop: Callable[[], None],
        seconds: float,
        *,
        recovery_timeout: float = 20.0,
        after: float = 0.5,
    ) -> float | None:
        """Run the load: healthy for a second, then the fault (`start()`, the mark "fault") for
        `seconds`, then `stop()` (the mark "recovery") and wait at most `recovery_timeout` for a
        write to succeed, the load going on `after` seconds more; `wait_for_success()`'s seconds."""
        with self.running():
            time.sleep(1.0)
            self.mark("fault")
            start()
            time.sleep(seconds)
            stop()
            self.mark("recovery")
            recovered = self.wait_for_success(timeout=recovery_timeout)
            time.sleep(after)
        return recovered

    def _run(self) -> None:
        asyncio.run(self._clients())

    async def _clients(self) -> None:
        limits = httpx.Limits(max_connections=self.clients)
        headers = {"Authorization": f"Token {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=self.timeout, limits=limits
        ) as client:
            await asyncio.gather(*(self._client(client, number) for number in range(self.clients)))

    async def _client(self, client: httpx.AsyncClient, number: int) -> None:
        turn = number
        while not self._stop.is_set():
            turn += 1
            write = turn % self.write_every == 0
            name = f"load-{uuid.uuid4().hex[:12]}" if write else None
            sent = self.now()
            started = time.monotonic()
            try:
                if write:
                    response = await client.post(LIST, json={"name": name})
                else:
                    response = await client.get(LIST)
            except httpx.HTTPError as exc:
                answer = Answer(
                    "write" if write else "read",
                    sent,
                    time.monotonic() - started,
                    0,
                    type(exc).__name__,
                    None,
                    name,
                )
            else:
                answer = Answer(
                    "write" if write else "read",
                    sent,
                    time.monotonic() - started,
                    response.status_code,
                    _code(response),
                    response.headers.get("Retry-After"),
                    name,
                )
            with self._lock:
                self.answers.append(answer)
            await asyncio.sleep(self.pause)

    # --- results ---------------------------------------------------------------------------

    def phases(self) -> list[PhaseReport]:
        """The answers split by the marks, in order."""
        reports = [PhaseReport(name) for name, _ in self.marks]
        starts = [at for _, at in self.marks]
        with self._lock:
            answers = list(self.answers)
        for answer in answers:
            index = max(i for i, at in enumerate(starts) if answer.sent >= at)
            reports[index].answers.append(answer)
        return reports

    def phase(self, name: str) -> PhaseReport:
        return next(p for p in self.phases() if p.name == name)

    def all(self) -> PhaseReport:
        with self._lock:
            return PhaseReport("all", list(self.answers))

    def acknowledged_writes(self) -> list[str]:
        with self._lock:
            answers = list(self.answers)
        return [a.name for a in answers if a.kind == "write" and a.status == 201 and a.name]

    def lost_writes(self, stored_names: Iterable[str]) -> tuple[list[str], list[str]]:
        """Acknowledged creates missing from `stored_names`, and names stored more than once."""
        stored = Counter(stored_names)
        lost = [name for name in self.acknowledged_writes() if stored[name] == 0]
        duplicated = [name for name, count in stored.items() if count > 1]
        return lost, duplicated


def _code(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        body: Any = response.json()
        return str(body["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "not-the-envelope"


def summary(report: PhaseReport) -> str:
    """One line: the outcomes, p50/p99/slowest seconds."""
    outcomes = ", ".join(f"{n}× {outcome}" for outcome, n in sorted(report.by_outcome().items()))
    return (
        f"{report.name}: {report.count} answers ({outcomes}); p50 {report.percentile(50):.2f} s, "
        f"p99 {report.percentile(99):.2f} s, slowest {report.slowest:.2f} s"
    )


async def _burst(base_url: str, requests: list[tuple[str, dict[str, str]]]) -> list[Answer]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        started = time.monotonic()

        async def one(path: str, headers: dict[str, str]) -> Answer:
            sent = time.monotonic() - started
            began = time.monotonic()
            try:
                response = await client.get(path, headers=headers)
            except httpx.HTTPError as exc:
                return Answer("read", sent, time.monotonic() - began, 0, type(exc).__name__, None)
            return Answer(
                "read",
                sent,
                time.monotonic() - began,
                response.status_code,
                _code(response),
                response.headers.get("Retry-After"),
            )

        return list(await asyncio.gather(*(one(path, headers) for path, headers in requests)))


def burst(base_url: str, requests: list[tuple[str, dict[str, str]]]) -> list[Answer]:
    """Send every (path, headers) GET at once, each on a connection of its own."""
    return asyncio.run(_burst(base_url, requests))
