"""Tests of the support code itself: the TCP proxy and the daphne test server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.servers import DaphneServer, ServerStartError, current_database_url
from tests.support.tcp_proxy import TcpProxy

TIMEOUT = 5.0


class EchoServer:
    """A TCP echo server on a free port; each connection is echoed until the peer closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed_connections = 0
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.connections: list[socket.socket] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            with self.lock:
                self.connections.append(conn)
                self.threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with self.lock:
                self.closed_connections += 1

    def wait_closed(self, count: int, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.closed_connections >= count:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.accepter.join(TIMEOUT)
        with self.lock:
            connections, threads = list(self.connections), list(self.threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(TIMEOUT)
        for conn in connections:
            conn.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[TcpProxy]:
    tcp_proxy = TcpProxy("127.0.0.1", echo.port).start()
    yield tcp_proxy
    tcp_proxy.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tcp-proxy")]


def test_proxy_forwards_bytes_both_ways(proxy: TcpProxy) -> None:
    with connect(proxy.port) as sock:
        assert roundtrip(sock, b"hello") == b"hello"
        big = bytes(range(256)) * 8192  # 2 MiB, many chunks
        assert roundtrip(sock, big) == big
    assert proxy.connections_accepted == 1
    assert proxy.bytes_forwarded >= 2 * (5 + len(big))


def test_proxy_serves_several_connections_at_once(proxy: TcpProxy) -> None:
    socks = [connect(proxy.port) for _ in range(5)]
    try:
        for index, sock in enumerate(socks):
            assert roundtrip(sock, f"client {index}".encode()) == f"client {index}".encode()
        assert proxy.active_connections == 5
    finally:
        for sock in socks:
            sock.close()


def test_proxy_passes_a_half_close_on(proxy: TcpProxy) -> None:
    with connect(proxy.port) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # the echo server answers, then sees EOF and closes
        received = b""
        while chunk := sock.recv(1024):
            received += chunk
    assert received == b"last words"


def test_cut_drops_established_connections_and_refuses_new_ones(
    proxy: TcpProxy, echo: EchoServer
) -> None:
    client = connect(proxy.port)
    try:
        assert roundtrip(client, b"before") == b"before"
        started = time.monotonic()
        proxy.cut()
        assert time.monotonic() - started < 1.0
        # The client sees the connection end (EOF, or a reset)...
        try:
            data = client.recv(1024)
        except ConnectionResetError:
            data = b""
        assert data == b""
        # ...and so does the server behind the proxy.
        assert echo.wait_closed(1)
        with pytest.raises(ConnectionRefusedError):
            connect(proxy.port).close()
        assert not proxy.accepting
        assert proxy.active_connections == 0
        assert proxy_threads() == []
    finally:
        client.close()


def test_restore_accepts_again_on_the_same_port(proxy: TcpProxy) -> None:
    port = proxy.port
    with connect(port) as sock:
        assert roundtrip(sock, b"one") == b"one"
    proxy.cut()
    with pytest.raises(ConnectionRefusedError):
        connect(port).close()
    proxy.restore()
    assert proxy.port == port
    assert proxy.accepting
    with connect(port) as sock:
        assert roundtrip(sock, b"two") == b"two"
    # Cut and restore repeatedly: still the same port, still forwarding.
    for round_number in range(3):
        proxy.cut()
        proxy.restore()
        with connect(port) as sock:
            assert roundtrip(sock, b"%d" % round_number) == b"%d" % round_number


def test_hang_holds_established_and_new_connections_until_resume(proxy: TcpProxy) -> None:
    established = connect(proxy.port)
    try:
        assert roundtrip(established, b"before") == b"before"
        proxy.hang()
        established.sendall(b"held")  # the write succeeds: a partition, not a refusal
        established.settimeout(0.3)
        with pytest.raises(TimeoutError):
            established.recv(1024)
        fresh = connect(proxy.port)  # accepted, but nothing reaches the target
        fresh.settimeout(0.3)
        fresh.sendall(b"new")
        with pytest.raises(TimeoutError):
            fresh.recv(1024)
        assert proxy.hanging
        proxy.resume()
        established.settimeout(TIMEOUT)
        fresh.settimeout(TIMEOUT)
        assert established.recv(1024) == b"held"
        assert fresh.recv(1024) == b"new"
        assert roundtrip(established, b"after") == b"after"
        fresh.close()
    finally:
        established.close()


def test_cut_while_hanging_drops_the_held_connections(proxy: TcpProxy) -> None:
    with connect(proxy.port) as sock:
        proxy.hang()
        sock.sendall(b"held")
        proxy.cut()
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
        assert data == b""
    assert proxy_threads() == []
    proxy.resume()


def test_close_joins_every_thread_and_frees_the_port(echo: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", echo.port).start()
    socks = [connect(proxy.port) for _ in range(3)]
    for sock in socks:
        assert roundtrip(sock, b"x") == b"x"
    assert proxy_threads()
    proxy.close()
    assert proxy_threads() == []
    with pytest.raises(ConnectionRefusedError):
        connect(proxy.port).close()
    with pytest.raises(RuntimeError):
        proxy.restore()
    for sock in socks:
        sock.close()


def test_a_connection_to_an_unreachable_target_is_closed() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, never listening: connects refused
        with TcpProxy("127.0.0.1", dead_port) as proxy, connect(proxy.port) as sock:
            sock.settimeout(TIMEOUT)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data == b""
    assert proxy_threads() == []


def test_daphne_server_serves_the_application(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    with DaphneServer(env={"DATABASE_URL": f"sqlite:///{database}"}) as server:
        assert server.running
        response = httpx.get(f"{server.url}/healthz", timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "redis": "not_used"}
        assert response.headers["X-Correlation-ID"]
        missing = httpx.get(f"{server.url}/no-such-page", timeout=TIMEOUT)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        process = server.process
        assert process is not None and server.pid == process.pid
        stderr_path = server.stderr_path
        assert stderr_path is not None and stderr_path.exists()
    assert process.poll() is not None  # stopped on exit
    assert not stderr_path.exists()  # and its log files removed


def test_daphne_server_reports_a_failed_start_with_its_output() -> None:
    server = DaphneServer(env={"ENVIRONMENT": "staging"})
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert "ENVIRONMENT must be one of" in str(info.value)
    assert not server.running
    server.cleanup()


@pytest.mark.postgres
@pytest.mark.django_db
def test_current_database_url_names_the_test_database() -> None:
    from django.db import connection

    url = current_database_url()
    assert url.endswith("/" + connection.settings_dict["NAME"])
    with psycopg.connect(url, connect_timeout=5) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
    assert name == (connection.settings_dict["NAME"],)
    assert (
        current_database_url(host="10.1.2.3", port=6543).split("@")[-1].startswith("10.1.2.3:6543/")
    )
