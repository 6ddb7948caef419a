"""Django projects the benchmarks serve: bench/overhead's stacks and bench/load's service."""

from __future__ import annotations

import io

# python-json-logger asked for the fields errors.logging.JsonFormatter writes, by the same names
# (the `alternative` stack and bench/logfmt).
PJL_FMT = (
    "%(asctime)s %(levelname)s %(message)s %(name)s %(module)s %(funcName)s %(lineno)d "
    "%(process)d %(thread)d"
)
PJL_RENAMES = {
    "asctime": "timestamp", "levelname": "level", "name": "logger", "funcName": "function",
    "lineno": "line", "process": "process_id", "thread": "thread_id",
}  # fmt: skip


class NullSink(io.TextIOBase):
    """The stream every stack logs to: it discards the text and counts the lines (one write()
    per record), so stacks differ by what they do before the write, not by I/O."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return len(text)


LOG_SINK = NullSink()
