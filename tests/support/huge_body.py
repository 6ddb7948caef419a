"""A client that POSTs a body of any size, made up on the fly, until the server answers; and a
process's resident memory. Shared by the daphne tests and the consumer suite."""

from __future__ import annotations

import re
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # bytes of the body (with chunk framing) the client got to send
    seconds: float  # from the request's first byte until the server closed the connection


def rss(pid: int) -> int:
    """The resident memory of a process, in bytes (VmRSS of /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def post_huge_body(
    host: str,
    port: int,
    path: str,
    correlation_id: str,
    *,
    chunked: bool,
    size: int = GIB,
    deadline_seconds: float = 10,
) -> Answer:
    """POST `size` bytes of JSON content type to `path`, until the server answers.

    The body is written 64 kB at a time for as long as the socket takes it and no answer came
    (never held in memory); then the answer is read until the server closes the connection.
    """
    piece = b"\0" * 65536
    frame = memoryview(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % size
    head = b"\r\n".join(
        [
            f"POST {path} HTTP/1.1".encode(),
            f"Host: {host}:{port}".encode(),
            b"Content-Type: application/json",
            f"X-Correlation-ID: {correlation_id}".encode(),
            length,
            b"",
            b"",
        ]
    )
    started = time.monotonic()
    deadline = started + deadline_seconds
    sock = socket.create_connection((host, port), timeout=5)
    try:
        sock.sendall(head)
        sock.setblocking(False)
        sent = offset = 0
        while sent < size:
            assert time.monotonic() < deadline, f"no answer after {sent} bytes of the body"
            readable, writable, _ = select.select([sock], [sock], [], 0.2)
            if readable:
                break
            if not writable:
                continue
            try:
                written = sock.send(frame[offset:])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += written
            offset = (offset + written) % len(frame)
        sock.setblocking(True)
        received = bytearray()
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
        seconds = time.monotonic() - started
    finally:
        sock.close()
    head_bytes, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head_bytes, f"no answer at all after {sent} bytes of the body"
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    return Answer(int(status_line.split()[1]), headers, body, sent, seconds)
