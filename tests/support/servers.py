"""Running the real ASGI application in a real daphne process, for tests.

    with DaphneServer(env={"DATABASE_URL": current_database_url()}) as server:
        httpx.get(f"{server.url}/healthz")

The server gets a free port on 127.0.0.1 (or the `port` it is given, e.g. to start a server again
where its clients expect it), the repository root as working directory and a clean
environment (the parent's minus DATABASE_URL, REDIS_URL and DJANGO_SETTINGS_MODULE, plus
`ENVIRONMENT=test`, a SECRET_KEY, the settings module and `env`). Its stdout and stderr go to
temporary files (a pipe nobody reads could fill up and block the server), readable at any time
with `stdout_lines()` / `stderr_lines()`. Start-up waits until `GET /healthz` answers, with any
status; exit sends SIGTERM, then SIGKILL if the process has not ended in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables of the parent that must not leak into the server: it gets its own.
_DROPPED_ENV = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
_DROPPED_ENV_PREFIXES = ("PYTEST_",)


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries its output."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_environment(
    env: Mapping[str, str] | None = None, settings_module: str = "cortex.settings"
) -> dict[str, str]:
    """The environment a test server runs with (see the module docstring)."""
    result = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not key.startswith(_DROPPED_ENV_PREFIXES)
    }
    result.update(
        {
            "ENVIRONMENT": "test",
            "SECRET_KEY": "daphne-test-server-secret-key",
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONUNBUFFERED": "1",  # log lines reach the files as they are written
        }
    )
    result.update(env or {})
    return result


class DaphneServer:
    """`daphne cortex.asgi:application` in a subprocess, as a context manager."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        settings_module: str = "cortex.settings",
        *,
        application: str = "cortex.asgi:application",
        host: str = "127.0.0.1",
        start_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        health_path: str = "/healthz",
        daphne_args: Sequence[str] = (),
        backlog: int | None = None,
        port: int | None = None,
    ) -> None:
        self.env = server_environment(env, settings_module)
        # Further daphne options (e.g. `-v 0`), and a listen backlog above Twisted's 50, which
        # drops connections that arrive in a batch (then daphne listens through an endpoint).
        self.daphne_args = list(daphne_args)
        self.backlog = backlog
        self.application = application
        self.host = host
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.health_path = health_path
        self.requested_port = port
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._logdir: tempfile.TemporaryDirectory[str] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.returncode: int | None = None

    # --- properties ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def stdout_path(self) -> Path | None:
        return Path(self._stdout.name) if self._stdout is not None else None

    @property
    def stderr_path(self) -> Path | None:
        return Path(self._stderr.name) if self._stderr is not None else None

    def stdout_lines(self) -> list[str]:
        """What the server wrote to stdout so far."""
        return _read_lines(self.stdout_path)

    def stderr_lines(self) -> list[str]:
        """What the server wrote to stderr so far (daphne and Django's logging write here)."""
        return _read_lines(self.stderr_path)

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log records among the server's stderr lines (daphne's own lines are not)."""
        return json_records(self.stderr_path)

    def output(self) -> str:
        """stdout and stderr, for a failure message."""
        return (
            "--- stdout ---\n"
            + "\n".join(self.stdout_lines())
            + "\n--- stderr ---\n"
            + "\n".join(self.stderr_lines())
        )

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> DaphneServer:
        if self.process is not None:
            raise RuntimeError("the server was already started")
        self._logdir = tempfile.TemporaryDirectory(prefix="daphne-test-")
        self._stdout = open(Path(self._logdir.name) / "stdout.log", "w+b")  # noqa: SIM115
        self._stderr = open(Path(self._logdir.name) / "stderr.log", "w+b")  # noqa: SIM115
        self.port = self.requested_port or free_port(self.host)
        listen = ["-b", self.host, "-p", str(self.port)]
        if self.backlog is not None:
            listen = ["-e", f"tcp:port={self.port}:interface={self.host}:backlog={self.backlog}"]
        command = [sys.executable, "-m", "daphne", *listen, *self.daphne_args, self.application]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise ServerStartError(
                        f"daphne exited with status {self.process.returncode} before answering "
                        f"{self.health_path}\n{self.output()}"
                    )
                try:
                    client.get(self.url + self.health_path)
                except httpx.TransportError as exc:
                    last_error = exc
                    time.sleep(0.1)
                else:
                    return
        raise ServerStartError(
            f"daphne did not answer {self.health_path} on port {self.port} within "
            f"{self.start_timeout:g} s (last error: {last_error!r})\n{self.output()}"
        )

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after `stop_timeout`; returns the exit status."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self.stop_timeout)
        if process is not None:
            self.returncode = process.returncode
        for stream in (self._stdout, self._stderr):
            if stream is not None and not stream.closed:
                stream.close()
        return self.returncode

    def cleanup(self) -> None:
        """Stop the server and delete its log files."""
        self.stop()
        if self._logdir is not None:
            self._logdir.cleanup()
            self._logdir = None

    def __enter__(self) -> DaphneServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process is not None else None
        return f"<DaphneServer {self.url} pid={pid}>"


def _read_lines(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def json_records(path: Path | None) -> list[dict[str, Any]]:
    """The JSON log records among the lines of a process's log file; other lines are skipped."""
    records = []
    for line in _read_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


@contextlib.contextmanager
def daphne_server(
    env: Mapping[str, str] | None = None,
    settings_module: str = "cortex.settings",
    *,
    start_timeout: float = 20.0,
) -> Iterator[DaphneServer]:
    """`DaphneServer` as a generator-based context manager (handy inside pytest fixtures)."""
    with DaphneServer(env, settings_module, start_timeout=start_timeout) as server:
        yield server


def current_database_url(*, host: str | None = None, port: int | None = None) -> str:
    """A `postgres://` URL for the database the running test uses (pytest-django's test DB).

    `host` / `port` replace the configured ones, e.g. to go through a `TcpProxy`.
    """
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError(f"the test database is {connection.vendor}, not PostgreSQL")
    user = quote(str(settings.get("USER") or ""), safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    final_host = host or str(settings.get("HOST") or "127.0.0.1")
    if ":" in final_host and not final_host.startswith("["):
        final_host = f"[{final_host}]"
    final_port = port or int(settings.get("PORT") or 5432)
    name = quote(str(settings["NAME"]), safe="")
    return f"postgres://{credentials}{final_host}:{final_port}/{name}"
