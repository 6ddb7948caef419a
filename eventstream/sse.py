"""The text/event-stream wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def event(data: str, *, name: str | None = None, event_id: str | None = None) -> bytes:
    """One event. Every line of `data` gets its own `data:` line, as the format requires."""
    parts = []
    if event_id is not None:
        parts.append(f"id: {_one_line(event_id)}\n")
    if name is not None:
        parts.append(f"event: {_one_line(name)}\n")
    parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def comment(text: str = "") -> bytes:
    """A comment line: ignored by clients, it keeps proxies from closing an idle stream."""
    return f": {_one_line(text)}\n\n".encode()


def retry(milliseconds: int) -> bytes:
    """Tell the client how long to wait before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n".encode()


def _one_line(text: str) -> str:
    # A line break inside a field name or id would start a new field: drop it.
    return _LINE_BREAK.sub(" ", text)
