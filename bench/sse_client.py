"""bench/sse's client, in a process of its own: the streams as asyncio protocols on raw sockets,
arrivals stamped with time.monotonic() (CLOCK_MONOTONIC, shared between processes)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import commands, send


class OpenFailed(Exception):
    """A stream was refused, closed or never established."""


class Stream(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.head, self.tail, self.last = b"", b"", b""
        self.established: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.seen: dict[int, float] = {}
        self.duplicates, self.closing, self.lost = 0, False, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.client.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last = data[-300:]
        if not self.established.done():
            self.head += data
            at = self.head.find(b"event: connection_established")
            if b"\r\n\r\n" in self.head and not self.head.startswith(b"HTTP/1.1 200 "):
                self.fail(f"answered {self.head[:400]!r}")
            elif len(self.head) > 65536 and at < 0:
                self.fail("no connection_established")
            if at < 0 or self.head.find(b"\n\n", at) < 0 or self.established.done():
                return
            self.established.set_result(None)
            data, self.head = self.head[at:], b""
        self.scan(self.tail + data, now)

    def scan(self, buffer: bytes, now: float) -> None:
        """Stamp each event name in `buffer`; keep a tail that may hold half a marker."""
        marker, start = self.client.marker, 0
        while (at := buffer.find(marker, start)) >= 0:
            end = buffer.find(b'"', at + len(marker))
            if end < 0:
                self.tail = buffer[at:]
                return
            key = int(buffer[at + len(marker) : end] or -1)
            if key in self.seen:
                self.duplicates += 1
            else:
                self.seen[key] = now
                self.client.counts[key] += 1
            start = end + 1
        self.tail = buffer[max(start, len(buffer) - len(marker) + 1) :]

    def fail(self, why: str) -> None:
        self.established.set_exception(OpenFailed(why))
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.established.done():
            why = f"closed before established: {exc or self.head[:300]!r}"
            self.established.set_exception(OpenFailed(why))
        elif not self.closing:
            self.client.server_closed.append(self.last.decode("utf-8", "replace"))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class Client:
    def __init__(self, config: dict[str, Any]) -> None:
        self.port = int(config["port"])
        self.request = (
            f"GET /api/events/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Token {config['token']}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.marker = f'"name":"sse-{config["run"]}-'.encode()
        self.streams: list[Stream] = []
        self.counts: Counter[int] = Counter()
        self.server_closed: list[str] = []

    async def open_one(self, timeout: float) -> Stream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                connecting = loop.create_connection(lambda: Stream(self), "127.0.0.1", self.port)
                _, stream = await connecting
                try:
                    await stream.established
                except BaseException:
                    stream.close()
                    raise
        except TimeoutError as exc:
            raise OpenFailed(f"not established within {timeout:g} s") from exc
        except OSError as exc:
            raise OpenFailed(f"connect: {exc}") from exc
        return stream

    async def open(self, count: int, batch: int, timeout: float) -> dict[str, Any]:
        """Open `count` more streams; stop after the first batch with failures."""
        started, failures, opened = time.monotonic(), Counter[str](), 0
        while opened < count and not failures:
            size = min(batch, count - opened)
            tries = (self.open_one(timeout) for _ in range(size))
            for result in await asyncio.gather(*tries, return_exceptions=True):
                if isinstance(result, Stream):
                    self.streams.append(result)
                    opened += 1
                else:
                    failures[f"{type(result).__name__}: {result}"[:300]] += 1
        return {
            "open": len(self.streams),
            "failed": sum(failures.values()),
            "failures": failures.most_common(5),
            "seconds": time.monotonic() - started,
        }

    async def wait(self, key: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.counts[key] < sum(
            not s.lost for s in self.streams
        ):
            await asyncio.sleep(0.002)
        arrivals = [s.seen[key] for s in self.streams if key in s.seen]
        # Which streams (by opening order) lacked it: the same few every time means their server
        # side stopped, not that events were dropped at random.
        missing = [i for i, s in enumerate(self.streams) if key not in s.seen]
        return {"arrivals": arrivals, "missing": len(missing), "missing_streams": missing[:100]}

    async def close(self) -> dict[str, Any]:
        for stream in self.streams:
            stream.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(s.lost for s in self.streams):
            await asyncio.sleep(0.01)
        result = {
            "server_closed": len(self.server_closed),
            "server_closed_samples": self.server_closed[:3],
            "duplicates": sum(s.duplicates for s in self.streams),
            "final_counts": dict(self.counts),  # late arrivals included
        }
        self.streams, self.server_closed = [], []
        return result


async def main() -> None:
    client = Client(json.loads(sys.argv[1]))
    ops: dict[str, Callable[..., Awaitable[dict[str, Any]]]]
    ops = {"open": client.open, "wait": client.wait, "close": client.close}
    async for command in commands():
        send(await ops[command.pop("op")](**command))
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
