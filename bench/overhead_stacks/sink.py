"""The log sink every stack writes to: a stream that discards what it is given.

All three stacks log through a `logging.StreamHandler` on this same kind of object, so the
measured difference is what each stack does before the write (filters, formatting), not I/O.
"""

from __future__ import annotations


class NullSink:
    """A text stream whose write() discards the text and only counts the calls.

    StreamHandler writes each record with a single write() call, so `writes` is the number of
    log lines emitted; bench/overhead.py reports it per request.
    """

    def __init__(self) -> None:
        """Start with no writes counted."""
        self.writes = 0

    def write(self, text: str) -> int:
        """Discard `text`, counting the call."""
        self.writes += 1
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


LOG_SINK = NullSink()
"""The process's sink; settings modules put it in LOGGING, the worker reads its counter."""
