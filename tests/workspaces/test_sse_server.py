"""`GET /api/events/` (Server-Sent Events) against the real service, in real daphne processes.

Streams are read over plain sockets, so a test decides exactly when, and how much, the client
reads (or stops reading); every read has a deadline. Workspaces are changed through the API with
httpx, over other connections. The servers use the test's database: on PostgreSQL the users these
transactional tests commit are visible to them; on SQLite, whose test database lives in this
process's memory, each test's servers get their own copy of a migrated SQLite file, made once per
module with the same accounts (`service_db`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import struct
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection

from accounts.tokens import issue_token
from tests.accounts.clients import CHALLENGE
from tests.support.accounts import forget_events, group_key, make_accounts
from tests.support.fixtures import DaphneFactory
from tests.support.servers import (
    DaphneServer,
    current_database_url,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

EVENTS = "/api/events/"
LIST = "/api/workspaces/"

EVENT_ID = re.compile(r"\d+-\d+")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

# --- a client that reads a stream exactly as far as a test wants --------------------------------


@dataclass
class Block:
    """One blank-line-terminated block of a text/event-stream: an event, a comment, a retry."""

    raw: str
    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: str) -> Block:
        block = cls(raw)
        data: list[str] = []
        for line in raw.split("\n"):
            if line.startswith(":"):
                block.comments.append(line[1:].removeprefix(" "))
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                block.event = value
            elif name == "id":
                block.id = value
            elif name == "retry":
                block.retry = int(value)
        block.data = "\n".join(data) if data else None
        return block

    def json(self) -> Any:
        assert self.data is not None, f"no data in {self.raw!r}"
        return json.loads(self.data)


class EventStream:
    """`GET /api/events/` over a plain socket (HTTP/1.1, `Connection: close`).

    The head is read at once; after that nothing is read from the socket until a test asks for
    a block, so a test that stops asking leaves the bytes in the kernel's buffers and the server
    sees a client that stopped reading. `rcvbuf` shrinks the socket's receive buffer (set before
    connecting, so the window is small from the start).
    """

    def __init__(
        self,
        server: DaphneServer,
        headers: Mapping[str, str] | None = None,
        *,
        method: str = "GET",
        path: str = EVENTS,
        rcvbuf: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((server.host, server.port))
        request = [
            f"{method} {path} HTTP/1.1",
            f"Host: {server.host}:{server.port}",
            "Accept: text/event-stream",
            "Connection: close",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        self.sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode("latin-1"))
        self.received = 0  # bytes read from the socket, head included
        self.eof = False  # the server closed the connection
        self.ended = False  # the response is complete (last chunk, or EOF when not chunked)
        self.blocks: list[Block] = []  # every block read so far, for failure messages
        self._raw = bytearray()  # from the socket, not yet decoded
        self._body = bytearray()  # decoded body, not yet taken as blocks
        self._scanned = 0  # how much of _body is known to hold no complete block
        self._chunk_left = 0
        self._chunk_crlf = False
        self.status, self.headers = self._read_head(time.monotonic() + timeout)
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._decode()

    # --- reading ---------------------------------------------------------------------------

    def _recv(self, deadline: float) -> bool:
        """Read what the socket has, waiting until `deadline` at most; False at EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.received += len(data)
        self._raw += data
        return True

    def _read_head(self, deadline: float) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._raw:
            if not self._recv(deadline):
                raise AssertionError(f"the connection closed before the head: {self._raw!r}")
        head, rest = bytes(self._raw).split(b"\r\n\r\n", 1)
        self._raw = bytearray(rest)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = (
                f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
            )
        return int(status_line.split()[1]), headers

    def _decode(self) -> None:
        """Move what arrived into the body, undoing chunked transfer coding."""
        if not self.chunked:
            self._body += self._raw
            self._raw.clear()
            self.ended = self.eof
            return
        while not self.ended:
            if self._chunk_left:
                piece = self._raw[: self._chunk_left]
                self._body += piece
                del self._raw[: len(piece)]
                self._chunk_left -= len(piece)
                if self._chunk_left:
                    return
                self._chunk_crlf = True
            if self._chunk_crlf:
                if len(self._raw) < 2:
                    return
                assert self._raw[:2] == b"\r\n", self._raw[:20]
                del self._raw[:2]
                self._chunk_crlf = False
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self._raw[:line_end].split(b";")[0], 16)
            del self._raw[: line_end + 2]
            if size == 0:
                self.ended = True  # trailers, if any, are of no interest
            self._chunk_left = size

    def next_block(self, timeout: float = 5.0) -> Block | None:
        """The next block, or None when the response ended; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._body.find(b"\n\n", self._scanned)
            if end >= 0:
                raw = bytes(self._body[:end])
                del self._body[: end + 2]
                self._scanned = 0
                block = Block.parse(raw.decode("utf-8"))
                self.blocks.append(block)
                return block
            self._scanned = max(len(self._body) - 1, 0)
            if self.ended or self.eof:
                return None
            self._recv(deadline)
            self._decode()

    def next_event(self, timeout: float = 5.0) -> Block:
        """The next block with data (heartbeats and `retry` are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                block = self.next_block(max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                raise AssertionError(
                    f"no event within {timeout:g} s; read so far: {self.seen()}"
                ) from None
            if block is None:
                raise AssertionError(f"the stream ended; read so far: {self.seen()}")
            if block.data is not None:
                return block

    def events(self, count: int, timeout: float = 5.0) -> list[Block]:
        deadline = time.monotonic() + timeout
        return [self.next_event(max(deadline - time.monotonic(), 0.0)) for _ in range(count)]

    def read_to_end(self, timeout: float = 5.0) -> list[Block]:
        """Every block until the response ends; AssertionError if it has not after `timeout`."""
        deadline = time.monotonic() + timeout
        blocks: list[Block] = []
        while True:
            try:
                block = self.next_block(max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                raise AssertionError(
                    f"the stream did not end within {timeout:g} s; read: {self.seen()}"
                ) from None
            if block is None:
                return blocks
            blocks.append(block)

    def wait_eof(self, timeout: float = 5.0) -> None:
        """Read until the server closes the connection; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self._recv(deadline)
            self._decode()

    @property
    def unread_body(self) -> bytes:
        """Body bytes received but not yet taken as blocks."""
        return bytes(self._body)

    def seen(self) -> list[str]:
        """The last blocks read, shortened, for failure messages."""
        return [shorten(block.raw) for block in self.blocks[-8:]]

    # --- closing ---------------------------------------------------------------------------

    def close(self, *, reset: bool = False) -> None:
        """Close the socket: a FIN, or with `reset` an RST (SO_LINGER 0)."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(server: DaphneServer, headers: Mapping[str, str], **kwargs: Any) -> EventStream:
    """A stream that is open and subscribed, its opening blocks and first heartbeat read.

    The stream joins its owner's events before it answers, so `connection_established` already
    proves that events published from now on reach it; the heartbeat (every second under these
    servers) shows the hub's ticker writes to it.
    """
    return subscribed(EventStream(server, headers, **kwargs))


def subscribed(stream: EventStream) -> EventStream:
    """`stream`, its opening blocks and first heartbeat read (see `open_stream`)."""
    assert stream.status == 200, (stream.status, stream.headers, stream.unread_body)
    opening = stream.next_block()
    assert opening is not None and opening.retry == 3000, stream.seen()
    established = stream.next_event()
    assert established.event == "connection_established", stream.seen()
    heartbeat = stream.next_block(timeout=3.0)
    assert heartbeat is not None and heartbeat.comments == ["heartbeat"], stream.seen()
    return stream


def shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# --- accounts and the database the servers use --------------------------------------------------

ACCOUNTS = ("alice", "bob")


@dataclass(frozen=True)
class Account:
    username: str
    user_id: int
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.key}"}


@dataclass(frozen=True)
class ServiceDatabase:
    """The DATABASE_URL of the test's servers and the accounts that exist there."""

    url: str
    accounts: dict[str, Account]

    @property
    def alice(self) -> Account:
        return self.accounts["alice"]

    @property
    def bob(self) -> Account:
        return self.accounts["bob"]


@dataclass(frozen=True)
class SqliteTemplate:
    path: Path
    accounts: dict[str, Account]


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate | None:
    """On SQLite: a database file migrated, and with the accounts, by a separate process."""
    if connection.vendor != "sqlite":
        return None
    path = tmp_path_factory.mktemp("sse-db") / "template.sqlite3"
    made = make_accounts(f"sqlite:///{path}", ACCOUNTS).accounts
    accounts = {name: Account(name, made[name]["id"], made[name]["token"]) for name in made}
    return SqliteTemplate(path, accounts)


@pytest.fixture
def service_db(
    transactional_db: None, sqlite_template: SqliteTemplate | None, tmp_path: Path
) -> Iterator[ServiceDatabase]:
    """The accounts, committed where the test's servers will look for them."""
    if sqlite_template is None:
        accounts = {}
        for name in ACCOUNTS:
            user = User.objects.create_user(name, password=f"{name}-password")
            accounts[name] = Account(name, user.pk, issue_token(user).key)
        database = ServiceDatabase(current_database_url(), accounts)
    else:
        path = tmp_path / "cortex.sqlite3"
        source, target = sqlite3.connect(sqlite_template.path), sqlite3.connect(path)
        try:
            source.backup(target)  # a consistent copy, whatever is still in the WAL
        finally:
            source.close()
            target.close()
        database = ServiceDatabase(f"sqlite:///{path}", dict(sqlite_template.accounts))
    forget_redis_state(database)  # user ids repeat between runs; so would their Redis keys
    yield database
    forget_redis_state(database)


# --- Redis --------------------------------------------------------------------------------------


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


def forget_redis_state(database: ServiceDatabase) -> None:
    user_ids = [account.user_id for account in database.accounts.values()]
    forget_events(os.environ.get("REDIS_URL"), user_ids)


# --- helpers ------------------------------------------------------------------------------------


def server_env(
    database: ServiceDatabase, redis_url: str | None = None, **settings: object
) -> dict[str, str]:
    """The environment of a test server: the test's database, 1-second heartbeats."""
    env = {"DATABASE_URL": database.url, "SSE_HEARTBEAT_SECONDS": "1"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({name: str(value) for name, value in settings.items()})
    return env


def api_client(server: DaphneServer, account: Account) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=account.auth, timeout=10.0)


def create(api: httpx.Client, name: str, correlation_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(
        LIST, json={"name": name, **fields}, headers={"X-Correlation-ID": correlation_id}
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Correlation-ID"] == correlation_id
    return dict(response.json())


def event_order(event_id: str | None) -> tuple[int, int]:
    assert event_id is not None and EVENT_ID.fullmatch(event_id), event_id
    first, second = event_id.split("-")
    return int(first), int(second)


def assert_workspace_event(
    block: Block, kind: str, workspace: dict[str, Any], correlation_id: str
) -> dict[str, Any]:
    """`block` is event `kind` about `workspace`, caused by the request `correlation_id`."""
    assert block.event == kind, block.raw
    event_order(block.id)
    data = block.json()
    assert data["type"] == kind, data
    assert data["workspace"]["id"] == workspace["id"], data
    assert data["workspace"]["name"] == workspace["name"], data
    assert data["correlation_id"] == correlation_id, data
    return dict(data)


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


def error_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The `error` object of a JSON error envelope answering a refused stream."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = dict(body["error"])
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"]
    assert error["correlation_id"] == response.headers["X-Correlation-ID"], body
    return error


def wait_for(condition: Any, timeout: float, interval: float = 0.05) -> float | None:
    """Poll `condition` until true: the seconds it took, or None after `timeout`."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started >= timeout:
            return None
        time.sleep(interval)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def assert_nothing_went_wrong(*servers: DaphneServer) -> None:
    """No server logged an error or a traceback (a refusal is logged at WARNING or INFO)."""
    for server in servers:
        problems = [
            shorten(line, 400)
            for line in server.stderr_lines()
            if "Traceback" in line or '"level":"ERROR"' in line or '"level":"CRITICAL"' in line
        ]
        assert problems == [], problems


CREATED, UPDATED, DELETED = "workspace.created", "workspace.updated", "workspace.deleted"

# The channel layer a test's servers use: in-process, or channels_redis (needs REDIS_URL).
LAYERS = [
    pytest.param("memory", id="memory-layer"),
    pytest.param("redis", id="redis-layer", marks=pytest.mark.redis),
]


def layer_redis_url(layer: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("redis_url")) if layer == "redis" else None


# --- 1. refusals -----------------------------------------------------------------------------


def test_refused_requests_get_the_error_envelope_not_a_stream(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db))
    alice = service_db.alice
    sse = {"Accept": "text/event-stream"}
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        # httpx reads each answer to its end: a stream would time out here instead.
        anonymous = client.get(EVENTS, headers={**sse, "X-Correlation-ID": "sse-anonymous"})
        error = error_envelope(anonymous, 401, "authentication_error")
        assert anonymous.headers["X-Correlation-ID"] == "sse-anonymous"
        assert anonymous.headers["WWW-Authenticate"] == CHALLENGE
        assert error["correlation_id"] == "sse-anonymous"

        invalid_id = client.get(EVENTS, headers={**sse, "X-Correlation-ID": "not a valid id!"})
        error_envelope(invalid_id, 401, "authentication_error")
        assert is_uuid4(invalid_id.headers["X-Correlation-ID"]), invalid_id.headers

        for authorization in ("Token 0123456789abcdef0123456789abcdef01234567", "Bearer abc"):
            refused = client.get(EVENTS, headers={**sse, "Authorization": authorization})
            error_envelope(refused, 401, "authentication_error")

        # The method is checked first: even a valid token gets 405 for anything but GET/HEAD.
        for method in ("POST", "PUT", "DELETE"):
            not_allowed = client.request(
                method, EVENTS, headers={**alice.auth, "X-Correlation-ID": f"sse-{method}"}
            )
            error = error_envelope(not_allowed, 405, "method_not_allowed")
            assert error["correlation_id"] == f"sse-{method}"
            assert method in error["message"]

    # Each refusal is logged once by the `errors` logger, with the request's correlation id.
    logged = [r for r in server.log_records() if r.get("logger") == "errors"]
    assert [r.get("error_code") for r in logged if r.get("correlation_id") == "sse-anonymous"] == [
        "authentication_error"
    ], logged
    assert [r.get("status_code") for r in logged if r.get("correlation_id") == "sse-POST"] == [405]


# What HTTP requires of these answers and the service does not (yet) do: see each reason.
# Strict, so that each one fails as soon as it is fixed, and the marker can go.


def test_405_names_the_allowed_methods(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db))
    with httpx.Client(base_url=server.url, headers=service_db.alice.auth, timeout=5.0) as client:
        response = client.post(EVENTS)
    error_envelope(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed == {"GET", "HEAD"}, response.headers


def test_every_401_names_the_token_scheme(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db))
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        for authorization in ("Token 0123456789abcdef0123456789abcdef01234567", "Bearer abc"):
            response = client.get(EVENTS, headers={"Authorization": authorization})
            error_envelope(response, 401, "authentication_error")
            assert response.headers.get("WWW-Authenticate") == CHALLENGE, response.headers


def test_head_gets_the_head_and_no_body(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db))
    with EventStream(server, service_db.alice.auth, method="HEAD") as head:
        assert head.status in (200, 405), head.headers
        head.wait_eof(timeout=2.0)  # Connection: close, so the answer ends with the connection
        assert head.unread_body == b"", head.unread_body[:200]


# --- 2. events as they happen ----------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_create_update_delete_arrive_in_order_with_the_causing_requests_ids(
    layer: str,
    request: pytest.FixtureRequest,
    daphne_factory: DaphneFactory,
    service_db: ServiceDatabase,
) -> None:
    server = daphne_factory(server_env(service_db, layer_redis_url(layer, request)))
    alice, bob = service_db.alice, service_db.bob

    with EventStream(server, {**alice.auth, "X-Correlation-ID": "sse-flow-stream"}) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        assert stream.headers["x-correlation-id"] == "sse-flow-stream"
        assert "content-length" not in stream.headers

        opening = stream.next_block()
        assert opening is not None and opening.raw == "retry: 3000", stream.seen()
        established = stream.next_block()
        assert established is not None and established.event == "connection_established"
        assert established.id is None
        data = established.json()
        assert set(data) == {"user_id", "timestamp"}, data
        assert data["user_id"] == alice.user_id
        assert TIMESTAMP.fullmatch(data["timestamp"]), data
        # SSE_HEARTBEAT_SECONDS=1: a heartbeat comes after about a second of silence.
        started = time.monotonic()
        heartbeat = stream.next_block(timeout=3.0)
        assert heartbeat is not None and heartbeat.raw == ": heartbeat", stream.seen()
        assert heartbeat.comments == ["heartbeat"] and heartbeat.data is None
        assert 0.5 < time.monotonic() - started < 2.5

        with api_client(server, alice) as api, api_client(server, bob) as bob_api:
            made = create(api, "Flow", "sse-flow-create", metadata={"color": "blue"})
            patched = api.patch(
                f"{LIST}{made['id']}/",
                json={"description": "changed"},
                headers={"X-Correlation-ID": "sse-flow-update"},
            )
            assert patched.status_code == 200, patched.text
            # Another owner's event must not reach alice's stream.
            create(bob_api, "Bob's", "sse-flow-bob")
            deleted = api.delete(
                f"{LIST}{made['id']}/", headers={"X-Correlation-ID": "sse-flow-delete"}
            )
            assert deleted.status_code == 204, deleted.text
            sentinel = create(api, "Sentinel", "sse-flow-sentinel")

        events = stream.events(4)
        created = assert_workspace_event(events[0], CREATED, made, "sse-flow-create")
        assert created["workspace"] == made
        updated = assert_workspace_event(events[1], UPDATED, made, "sse-flow-update")
        assert updated["workspace"] == patched.json()
        assert updated["workspace"]["description"] == "changed"
        assert_workspace_event(events[2], DELETED, made, "sse-flow-delete")
        assert_workspace_event(events[3], CREATED, sentinel, "sse-flow-sentinel")
        ids = [event_order(event.id) for event in events]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), [e.id for e in events]

    # A correlation id that may not be adopted is replaced by a new one on the stream too.
    with EventStream(server, {**alice.auth, "X-Correlation-ID": "bad id\t!"}) as stream:
        assert stream.status == 200
        assert is_uuid4(stream.headers["x-correlation-id"]), stream.headers
    assert_nothing_went_wrong(server)


# --- 3. a client that goes away leaves its group at once -------------------------------------


def open_streams_gauge(server: DaphneServer) -> float:
    """`sse_open_streams` as the server's /metrics reports it."""
    response = httpx.get(f"{server.url}/metrics", timeout=5.0)
    assert response.status_code == 200, response.text
    (line,) = [x for x in response.text.splitlines() if x.startswith("sse_open_streams ")]
    return float(line.split()[1])


@pytest.mark.parametrize("layer", LAYERS)
def test_a_client_that_disconnects_leaves_the_owner_group_within_a_second(
    layer: str,
    request: pytest.FixtureRequest,
    daphne_factory: DaphneFactory,
    service_db: ServiceDatabase,
) -> None:
    """Within a second of a FIN or an RST the server has let the stream go: it no longer counts
    it as open and, with Redis (where membership can be seen from outside), its process has
    left the owner's group, since this was the owner's only stream there."""
    redis_url = layer_redis_url(layer, request)
    server = daphne_factory(server_env(service_db, redis_url))
    alice = service_db.alice
    client = redis_client(redis_url) if redis_url else None
    key = group_key(alice.user_id)

    def members() -> int:
        return int(client.zcard(key)) if client is not None else 0

    timings = []
    try:
        for reset in (False, True):  # a FIN, then an abortive close (RST)
            stream = open_stream(server, alice.auth)
            assert open_streams_gauge(server) == 1
            if client is not None:
                assert members() == 1, f"{key}: {client.zrange(key, 0, -1)}"
            stream.close(reset=reset)
            left = wait_for(
                lambda: members() == 0 and open_streams_gauge(server) == 0,
                timeout=1.0,
                interval=0.05,
            )
            assert left is not None, (
                f"1 s after the client {'reset' if reset else 'closed'} its connection: "
                f"sse_open_streams {open_streams_gauge(server)}, {key} {members()} members"
            )
            timings.append(f"{'RST' if reset else 'FIN'}: let go after {left * 1000:.0f} ms")
    finally:
        if client is not None:
            client.close()
    print(f"{layer}: {timings}")
    assert_nothing_went_wrong(server)


# --- 4. a client that stops reading ----------------------------------------------------------

STALLED_STREAMS = 8
PUBLISHED_EVENTS = 300
# What one stalled stream may cost the server: SSE_QUEUE_SIZE (8) chunks of ~16.5 kB, plus
# what Twisted holds before it pauses the producer (64 kB and one more write), plus the error
# event: ~0.25 MB, so ~2 MB for 8 streams. The rest of the bound is room for what handling 300
# requests costs the allocator anyway (4-5 MB measured). A server that kept what the clients do
# not read would grow by 8 x (4.9 MB published - the ~2 MB the kernel's socket buffers take per
# connection), ~23 MB: ~28 MB measured when flow control does not engage.
RSS_GROWTH_BOUND = 12 * 1024 * 1024


def test_a_client_that_stops_reading_is_cut_off_with_stream_lagging_at_bounded_cost(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(
        server_env(
            service_db,
            SSE_QUEUE_SIZE=8,
            SSE_REPLAY_BUFFER_SIZE=1,  # the replay buffer would keep events in memory too
            USER_THROTTLE_RATE="100000/minute",
        )
    )
    alice = service_db.alice
    payload = {"description": "d" * 1000, "metadata": {"blob": "x" * 15000}}  # ~16.4 kB events
    with api_client(server, alice) as api:
        for n in range(30):  # warm the server up: code paths, connections, allocator
            create(api, f"warm-{n}", f"lag-warm-{n}", **payload)
        stalled = [
            EventStream(server, {**alice.auth, "X-Correlation-ID": f"lag-stream-{n}"}, rcvbuf=4096)
            for n in range(STALLED_STREAMS)
        ]
        for stream in stalled:
            subscribed(stream)
        # From here on, nothing reads these sockets until every event is published.
        rss_before = rss_bytes(server.pid)
        published = 0
        for n in range(PUBLISHED_EVENTS):
            published += len(json.dumps(create(api, f"big-{n}", f"lag-{n}", **payload)))
        rss_after = rss_bytes(server.pid)
    growth = rss_after - rss_before

    # Now read. A stream that was cut off ends at once: what is left is in socket buffers.
    deadline = time.monotonic() + 6.0
    outcomes: list[str] = []
    endings: list[list[Block]] = []
    for stream in stalled:
        try:
            blocks = stream.read_to_end(timeout=max(deadline - time.monotonic(), 0.5))
            stream.wait_eof(timeout=max(deadline - time.monotonic(), 0.5))
        except (AssertionError, TimeoutError) as exc:
            outcomes.append(f"did not end: {shorten(str(exc), 300)}; read {stream.received} B")
            break  # the others were treated alike: no need to wait for each of them
        finally:
            stream.close()
        events = [b for b in blocks if b.data is not None]
        outcomes.append(f"ended after {len(events)} events and {stream.received} B")
        endings.append(events)
    summary = (
        f"{STALLED_STREAMS} stalled streams, {PUBLISHED_EVENTS} events ({published / 1e6:.1f} MB) "
        f"published: RSS {rss_before / 1e6:.1f} -> {rss_after / 1e6:.1f} MB "
        f"(+{growth / 1e6:.1f} MB); streams: {outcomes}"
    )
    print(summary)
    assert len(endings) == STALLED_STREAMS, summary
    assert growth < RSS_GROWTH_BOUND, summary

    for stream, events in zip(stalled, endings, strict=True):
        last = events[-1]
        assert last.event == "error", (stream.seen(), summary)
        error = last.json()["error"]
        assert error["code"] == "stream_lagging", error
        assert error["correlation_id"] == stream.headers["x-correlation-id"]
        # What did arrive is the beginning of the stream, in order: the rest was dropped, and
        # a client can ask for it again with Last-Event-ID.
        received = [e.json()["correlation_id"] for e in events[:-1]]
        assert received == [f"lag-{n}" for n in range(len(received))], received[:5]
        assert len(received) < PUBLISHED_EVENTS
    lagging = [
        str(r.get("correlation_id"))
        for r in server.log_records()
        if r.get("logger") == "errors" and r.get("error_code") == "stream_lagging"
    ]
    assert sorted(lagging) == sorted(f"lag-stream-{n}" for n in range(STALLED_STREAMS)), lagging


# --- 5. Last-Event-ID ------------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_last_event_id_replays_the_missed_events_then_goes_live(
    layer: str,
    request: pytest.FixtureRequest,
    daphne_factory: DaphneFactory,
    service_db: ServiceDatabase,
) -> None:
    server = daphne_factory(server_env(service_db, layer_redis_url(layer, request)))
    alice = service_db.alice
    with api_client(server, alice) as api:
        with open_stream(server, alice.auth) as first:
            made = [create(api, f"replay-{n}", f"replay-{n}") for n in (1, 2, 3)]
            seen = first.events(3)
            for block, workspace, n in zip(seen, made, (1, 2, 3), strict=True):
                assert_workspace_event(block, CREATED, workspace, f"replay-{n}")
        made += [create(api, f"replay-{n}", f"replay-{n}") for n in (4, 5)]

        resumed = {**alice.auth, "Last-Event-ID": str(seen[0].id)}
        with EventStream(server, resumed) as second:
            assert second.status == 200
            assert second.next_event().event == "connection_established"
            replayed = second.events(4)
            for block, workspace, n in zip(replayed, made[1:], (2, 3, 4, 5), strict=True):
                assert_workspace_event(block, CREATED, workspace, f"replay-{n}")
            assert [b.id for b in replayed[:2]] == [seen[1].id, seen[2].id]
            ids = [event_order(b.id) for b in replayed]
            assert ids == sorted(ids) and len(set(ids)) == 4

            sixth = create(api, "replay-6", "replay-6")
            live = second.next_event()
            assert_workspace_event(live, CREATED, sixth, "replay-6")
            assert event_order(live.id) > ids[-1]
    assert_nothing_went_wrong(server)


@pytest.mark.parametrize("layer", LAYERS)
def test_last_event_id_older_than_the_buffer_gets_events_lost_first(
    layer: str,
    request: pytest.FixtureRequest,
    daphne_factory: DaphneFactory,
    service_db: ServiceDatabase,
) -> None:
    redis_url = layer_redis_url(layer, request)
    server = daphne_factory(server_env(service_db, redis_url, SSE_REPLAY_BUFFER_SIZE=2))
    alice = service_db.alice
    with api_client(server, alice) as api:
        with open_stream(server, alice.auth) as first:
            oldest = create(api, "lost-1", "lost-1")
            seen = first.next_event()
            assert_workspace_event(seen, CREATED, oldest, "lost-1")
        made = [create(api, f"lost-{n}", f"lost-{n}") for n in (2, 3, 4, 5)]
        # The buffer holds the last two (4 and 5): 2 and 3 are gone.

        with EventStream(server, {**alice.auth, "Last-Event-ID": str(seen.id)}) as second:
            assert second.status == 200
            assert second.next_event().event == "connection_established"
            lost = second.next_event()
            assert lost.event == "events_lost", second.seen()
            assert lost.id is None
            assert lost.json()["last_event_id"] == seen.id
            held = second.events(2)
            for block, workspace, n in zip(held, made[2:], (4, 5), strict=True):
                assert_workspace_event(block, CREATED, workspace, f"lost-{n}")

            sixth = create(api, "lost-6", "lost-6")
            assert_workspace_event(second.next_event(), CREATED, sixth, "lost-6")
    assert_nothing_went_wrong(server)


# --- 6. several processes --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_events_cross_processes_through_redis(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase, redis_url: str
) -> None:
    env = server_env(service_db, redis_url)
    process_a, process_b = daphne_factory(env), daphne_factory(env)
    assert process_a.pid != process_b.pid
    alice = service_db.alice
    with api_client(process_a, alice) as api_a, api_client(process_b, alice) as api_b:
        with open_stream(process_b, {**alice.auth, "X-Correlation-ID": "cross-stream"}) as on_b:
            on_a = create(api_a, "made-through-a", "cross-a-create")
            arrived = on_b.next_event()
            assert_workspace_event(arrived, CREATED, on_a, "cross-a-create")

        # Published by B while nobody listens, replayed by A from the shared Redis stream.
        on_b_later = create(api_b, "made-through-b", "cross-b-create")
        resumed = {**alice.auth, "Last-Event-ID": str(arrived.id)}
        with EventStream(process_a, resumed) as again_on_a:
            assert again_on_a.next_event().event == "connection_established"
            replayed = again_on_a.next_event()
            assert_workspace_event(replayed, CREATED, on_b_later, "cross-b-create")
            assert event_order(replayed.id) > event_order(arrived.id)
    assert_nothing_went_wrong(process_a, process_b)


# --- 7. hostile clients ----------------------------------------------------------------------


def open_when_a_slot_frees(
    server: DaphneServer, headers: Mapping[str, str], timeout: float = 2.0
) -> tuple[EventStream, float]:
    """A stream opened as soon as the server takes one again: it and the seconds that took."""
    started = time.monotonic()
    while True:
        stream = EventStream(server, headers)
        if stream.status == 200:
            waited = time.monotonic() - started
            return subscribed(stream), waited
        assert stream.status == 429, (stream.status, stream.unread_body)
        stream.close()
        if time.monotonic() - started > timeout:
            raise AssertionError(f"still refused {timeout:g} s after a stream closed")
        time.sleep(0.02)


def test_past_the_cap_a_user_gets_429_others_still_stream_and_a_closed_stream_frees_its_slot(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db, SSE_MAX_STREAMS_PER_USER=2))
    alice, bob = service_db.alice, service_db.bob
    first, second = open_stream(server, alice.auth), open_stream(server, alice.auth)
    try:
        with httpx.Client(base_url=server.url, timeout=5.0) as client:
            # httpx reads the answer to its end: a stream would time out here instead.
            refused = client.get(
                EVENTS,
                headers={**alice.auth, "Accept": "text/event-stream", "X-Correlation-ID": "cap"},
            )
        error = error_envelope(refused, 429, "rate_limit_exceeded")
        assert error["correlation_id"] == "cap"
        assert refused.headers["Retry-After"] == "1"  # SSE_HEARTBEAT_SECONDS
        assert error["details"] == {"max_streams": 2, "retry_after": 1}
        assert refused.headers["X-Frame-Options"] == "DENY"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert open_streams_gauge(server) == 2

        # Another user streams meanwhile, events included.
        with open_stream(server, bob.auth) as bobs, api_client(server, bob) as bob_api:
            made = create(bob_api, "Bob's while alice is capped", "cap-bob")
            assert_workspace_event(bobs.next_event(), CREATED, made, "cap-bob")
            assert open_streams_gauge(server) == 3

        # Alice closes one stream: her next one is taken at once.
        first.close()
        third, waited = open_when_a_slot_frees(server, alice.auth)
        print(f"a slot was free again {waited * 1000:.0f} ms after the client closed its stream")
        assert waited < 1.0
        with third, api_client(server, alice) as api:
            made = create(api, "After the cap", "cap-alice")
            assert_workspace_event(third.next_event(), CREATED, made, "cap-alice")
            assert_workspace_event(second.next_event(), CREATED, made, "cap-alice")
    finally:
        first.close()
        second.close()
    refusals = [r for r in server.log_records() if r.get("error_code") == "rate_limit_exceeded"]
    assert refusals and refusals[0]["correlation_id"] == "cap", refusals
    assert {r["level"] for r in refusals} == {"WARNING"}
    assert_nothing_went_wrong(server)


# Header values (sent as latin-1) that no event of the service ever had as its id.
NEVER_ISSUED_IDS = {
    "junk": None,
    "-1-0": None,
    "²-0": None,  # one byte, 0xB2: str.isdigit() takes it, int() does not
    "é-1": None,
    "1_000-0": None,
    "9" * 30 + "-0": None,  # over 64 bits: Redis refuses it
    "9" * 5000 + "-0": None,
    "18446744073709551616-0": None,
    "99999999999999-0": "99999999999999-0",  # well-formed, but newer than any event
}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_last_event_id_the_service_never_issued_gets_events_lost_not_a_500(
    layer: str,
    request: pytest.FixtureRequest,
    daphne_factory: DaphneFactory,
    service_db: ServiceDatabase,
) -> None:
    # With REDIS_URL the replay buffer is Redis too: the ids reach (or must not reach) XRANGE.
    server = daphne_factory(server_env(service_db, layer_redis_url(layer, request)))
    alice = service_db.alice
    with api_client(server, alice) as api:
        create(api, "held", "never-issued-held")  # the owner has events in the buffer
        for n, (last_event_id, echoed) in enumerate(NEVER_ISSUED_IDS.items()):
            headers = {**alice.auth, "Last-Event-ID": last_event_id}
            with EventStream(server, headers) as stream:
                assert stream.status == 200, (shorten(last_event_id), stream.unread_body)
                assert stream.next_event().event == "connection_established"
                lost = stream.next_event()
                assert lost.event == "events_lost", (shorten(last_event_id), stream.seen())
                assert lost.json()["last_event_id"] == echoed
                # Nothing is replayed, and the stream goes on live.
                made = create(api, f"after-odd-id-{n}", f"never-issued-{n}")
                assert_workspace_event(stream.next_event(), CREATED, made, f"never-issued-{n}")
    assert_nothing_went_wrong(server)


# --- 5. tickets, for browsers (EventSource cannot send Authorization) -------------------------


def test_a_ticket_opens_the_stream_once_and_never_reaches_a_log_line_or_a_metric(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    server = daphne_factory(server_env(service_db, LOG_LEVEL="DEBUG"))
    alice = service_db.alice
    shown: list[str] = []
    with api_client(server, alice) as api:

        def ticket() -> str:
            response = api.post("/api/events/tickets/")
            assert response.status_code == 201, response.text
            assert response.headers["Cache-Control"] == "no-store"
            shown.append(response.json()["ticket"])
            return shown[-1]

        first = ticket()
        with open_stream(server, {}, path=f"{EVENTS}?ticket={first}") as stream:
            workspace = create(api, "by-ticket", "by-ticket")
            assert_workspace_event(stream.next_event(), CREATED, workspace, "by-ticket")

        with httpx.Client(base_url=server.url, timeout=5.0) as anonymous:
            reused = anonymous.get(EVENTS, params={"ticket": first})
            error = error_envelope(reused, 401, "authentication_error")
            assert error["message"] == "Invalid ticket; it may have been used already."
            forged = first[:-1] + ("A" if first[-1] != "A" else "B")
            shown.append(forged)
            error_envelope(
                anonymous.get(EVENTS, params={"ticket": forged}), 401, "authentication_error"
            )
            # Bob's token with alice's ticket: bound to alice, so refused.
            bobs = {"Authorization": f"Token {service_db.bob.key}"}
            mismatched = anonymous.get(EVENTS, params={"ticket": ticket()}, headers=bobs)
            error = error_envelope(mismatched, 401, "authentication_error")
            assert error["message"] == "The ticket was issued to another user."
            metrics = anonymous.get("/metrics")
            assert metrics.status_code == 200

    output = server.output()
    assert '"path":"/api/events/?ticket=[REDACTED]"' in output  # the access log, masked
    leaked = [t for t in shown if t in output or t in metrics.text]
    assert leaked == [], [line for line in output.splitlines() if any(t in line for t in shown)]
    assert_nothing_went_wrong(server)


def test_a_page_on_an_allowed_origin_reads_the_stream_and_its_refusals(
    daphne_factory: DaphneFactory, service_db: ServiceDatabase
) -> None:
    origin = "http://console.example:8080"
    server = daphne_factory(server_env(service_db, CORS_ORIGINS=origin))
    with api_client(server, service_db.alice) as api:
        issued = api.post("/api/events/tickets/", headers={"Origin": origin})
        assert issued.headers["Access-Control-Allow-Origin"] == origin
        ticket = issued.json()["ticket"]
    cross_origin = {"Origin": origin}
    with open_stream(server, cross_origin, path=f"{EVENTS}?ticket={ticket}") as stream:
        assert stream.headers["access-control-allow-origin"] == origin
        assert "x-correlation-id" in stream.headers["access-control-expose-headers"].lower()
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        refused = client.get(EVENTS, params={"ticket": ticket}, headers=cross_origin)
        error_envelope(refused, 401, "authentication_error")
        assert refused.headers["Access-Control-Allow-Origin"] == origin
        other = client.get(EVENTS, headers={"Origin": "http://elsewhere.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
