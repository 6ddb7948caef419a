"""A server that shuts down ends its open streams at once and exits promptly."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from tests.support.accounts import make_accounts
from tests.support.servers import DaphneServer

ROOT = Path(__file__).resolve().parents[2]


def token_for_new_database(database_url: str) -> str:
    """Migrate a fresh database and return the API token of a user in it."""
    return str(make_accounts(database_url, ("shutdown",)).accounts["shutdown"]["token"])


def test_open_streams_end_promptly_when_the_server_stops(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    token = token_for_new_database(database_url)
    server = DaphneServer(env={"DATABASE_URL": database_url, "SSE_HEARTBEAT_SECONDS": "60"})
    with server:
        streams = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(
                f"GET /api/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Token {token}\r\n\r\n".encode()
            )
            received = b""
            while b"connection_established" not in received:
                received += sock.recv(4096)
            streams.append(sock)

        started = time.monotonic()
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        for sock in streams:
            sock.settimeout(5)
            while sock.recv(4096):  # b"" once the server has closed the stream
                pass
            sock.close()
        assert time.monotonic() - started < 3
        assert server.process.wait(5) is not None
        assert time.monotonic() - started < 5
