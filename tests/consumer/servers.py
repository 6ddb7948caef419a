"""The consumer project served by real servers: gunicorn (WSGI), uvicorn, daphne, hypercorn (ASGI).

    server = ConsumerServer(project, "gunicorn").start()
    server.wait_until_listening()
    httpx.get(server.url + "/metrics")
    server.records()   # the JSON log lines it wrote so far
    server.stop()

Each server runs the venv's own executable in the project directory, on a free port of
127.0.0.1, in the test run's process group (Ctrl-C stops it too). stdout and stderr go to files
next to the project: a pipe nobody reads could fill up and block the server. Being ready means
accepting TCP connections: no HTTP request is sent, so the first request a test makes is the
first one the application sees.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, Literal, TypeVar

from tests.consumer.build import Project
from tests.support.servers import ServerStartError, free_port

Kind = Literal["gunicorn", "uvicorn", "daphne", "hypercorn"]
T = TypeVar("T")

HOST = "127.0.0.1"
GUNICORN_THREADS = 16


def _command(kind: Kind, project: Project, port: int) -> list[str]:
    venv = project.venv
    if kind == "gunicorn":
        return [
            str(venv.bin("gunicorn")), "project.wsgi:application",
            "--bind", f"{HOST}:{port}", "--workers", "1", "--threads", str(GUNICORN_THREADS),
            # Its default path is one per user (~/.gunicorn/gunicorn.ctl), shared by every
            # gunicorn the tests run side by side.
            "--no-control-socket",
        ]  # fmt: skip
    if kind == "uvicorn":
        return [
            str(venv.bin("uvicorn")), "project.asgi:application",
            "--host", HOST, "--port", str(port), "--lifespan", "off", "--no-access-log",
        ]  # fmt: skip
    if kind == "hypercorn":
        return [str(venv.bin("hypercorn")), "project.asgi:application", "--bind", f"{HOST}:{port}"]
    return [str(venv.bin("daphne")), "-b", HOST, "-p", str(port), "project.asgi:application"]


class ConsumerServer:
    """One server process serving the consumer project."""

    def __init__(
        self, project: Project, kind: Kind, *, name: str | None = None, stop_timeout: float = 10
    ) -> None:
        self.project = project
        self.kind: Kind = kind
        self.name = name or f"{'drf' if project.with_drf else 'plain'}-{kind}"
        self.stop_timeout = stop_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        logs = project.root.parent / "logs"
        logs.mkdir(exist_ok=True)
        self.stdout_path = logs / f"{self.name}.stdout.log"
        self.stderr_path = logs / f"{self.name}.stderr.log"
        self._files: list[IO[bytes]] = []
        self._records: list[dict[str, Any]] = []
        self._offsets = {self.stdout_path: 0, self.stderr_path: 0}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> ConsumerServer:
        """Start the process (without waiting for it: see `wait_until_listening`)."""
        if self.process is not None:
            raise RuntimeError(f"{self.name} was already started")
        self.port = free_port(HOST)
        self._files = [open(self.stdout_path, "wb"), open(self.stderr_path, "wb")]  # noqa: SIM115
        self.process = subprocess.Popen(
            _command(self.kind, self.project, self.port),
            cwd=self.project.root,
            env=self.project.env,
            stdin=subprocess.DEVNULL,
            stdout=self._files[0],
            stderr=self._files[1],
        )
        return self

    def wait_until_listening(self, timeout: float = 60) -> None:
        """Wait until the port accepts TCP connections; fail with the output if it never does."""
        deadline = time.monotonic() + timeout
        last_error: OSError | None = None
        while time.monotonic() < deadline:
            assert self.process is not None, "start() first"
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with status {self.process.returncode} before listening"
                    f"\n{self.output()}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError as exc:
                last_error = exc
                time.sleep(0.05)
        raise ServerStartError(
            f"{self.name} did not listen on port {self.port} within {timeout:g} s "
            f"(last error: {last_error!r})\n{self.output()}"
        )

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after `stop_timeout`; returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self.stop_timeout)
        for file in self._files:
            file.close()
        return process.returncode

    # --- output ----------------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every JSON object line the server wrote so far (the servers' own lines are not)."""
        for path, offset in self._offsets.items():
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            for line in complete.decode("utf-8", "replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    self._records.append(record)
        return list(self._records)

    def records_of(self, correlation_id: str, logger: str | None = None) -> list[dict[str, Any]]:
        """The records of one request (and of one logger, exactly that name, if given)."""
        return [
            r
            for r in self.records()
            if r.get("correlation_id") == correlation_id
            and (logger is None or r.get("logger") == logger)
        ]

    def wait_for_records(
        self,
        correlation_id: str,
        logger: str | None = None,
        *,
        timeout: float = 3,
    ) -> list[dict[str, Any]]:
        """`records_of`, waiting a little for the first one (lines are flushed as written)."""
        return wait_for(lambda: self.records_of(correlation_id, logger), timeout)

    def output(self, tail: int = 60) -> str:
        """The last lines of stdout and stderr, for a failure message."""
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            lines = path.read_text("utf-8", "replace").splitlines() if path.exists() else []
            parts.append(f"--- {self.name} {label} ---\n" + "\n".join(lines[-tail:]))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<ConsumerServer {self.name} {self.url}>"


def wait_for(probe: Callable[[], list[T]], timeout: float) -> list[T]:
    """Call `probe` until it returns a non-empty list or `timeout` passes; return its last."""
    deadline = time.monotonic() + timeout
    found = probe()
    while not found and time.monotonic() < deadline:
        time.sleep(0.02)
        found = probe()
    return found


def stop_all(servers: Sequence[ConsumerServer]) -> None:
    """Stop every server that was started."""
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        server.stop()
