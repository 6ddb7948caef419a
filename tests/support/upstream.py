"""A real local HTTP upstream for tests of outgoing calls: it answers as told and records."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "UPSTREAM-SECRET-9f3c"  # what an upstream says; must never reach our client


@dataclass
class Received:
    """One request the upstream got."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop a streamed answer reset their connection: expected here.
        pass


class UpstreamServer:
    """An HTTP server on a free port of 127.0.0.1, serving from a thread; records each request.

    It answers `status` with `body`, or, with `hang` set, answers nothing until it is closed (or
    `hang_limit` seconds passed), so clients run into their read timeout.
    """

    def __init__(self) -> None:
        self.status = 200
        self.body = b'{"ok": true}'
        self.content_type = "application/json"
        self.hang = False
        self.hang_limit = 10.0
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> UpstreamServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with upstream._lock:
                    upstream.requests.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                if upstream.hang:
                    upstream._release.wait(upstream.hang_limit)
                    self.close_connection = True
                    return
                self.send_response(upstream.status)
                self.send_header("Content-Type", upstream.content_type)
                self.send_header("Content-Length", str(len(upstream.body)))
                self.end_headers()
                self.wfile.write(upstream.body)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
