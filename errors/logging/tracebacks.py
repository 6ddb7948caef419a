"""Formatting tracebacks exactly as `logging.Formatter.formatException` does, faster."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any, Final

# Rendering one frame of a traceback costs a compile() of its source line on 3.11+ (to place
# the ^^^ markers), which is most of the cost of formatting an exception. The text depends only
# on the frame's location and source line, and an application raises from a limited set of
# places, so each rendering is kept. Bounded: generated code could have unbounded locations.
_FRAME_CACHE: dict[tuple[Any, ...], str] = {}
_FRAME_CACHE_LIMIT: Final[int] = 4096


class _CachingStackSummary(traceback.StackSummary):
    """A StackSummary whose frame rendering is memoised in `_FRAME_CACHE`."""

    def format_frame_summary(self, frame_summary: traceback.FrameSummary, **kwargs: Any) -> str:
        """Return the cached text of the frame, rendering it on first sight."""
        if frame_summary.locals is not None:
            # Locals are values, not locations: nothing to reuse.
            return super().format_frame_summary(frame_summary, **kwargs)
        key = (
            frame_summary.filename,
            frame_summary.lineno,
            getattr(frame_summary, "end_lineno", None),
            getattr(frame_summary, "colno", None),
            getattr(frame_summary, "end_colno", None),
            frame_summary.name,
            frame_summary.line,
            tuple(sorted(kwargs.items())),
        )
        text = _FRAME_CACHE.get(key)
        if text is None:
            text = super().format_frame_summary(frame_summary, **kwargs)
            if len(_FRAME_CACHE) < _FRAME_CACHE_LIMIT:
                _FRAME_CACHE[key] = text
        return text


def _tracebacks(te: traceback.TracebackException) -> Iterator[traceback.TracebackException]:
    """`te` and every exception chained to it (cause, context, exception group members)."""
    pending = [te]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
        pending.extend(getattr(current, "exceptions", None) or ())


def format_exception_text(exc_info: Any) -> str:
    """Return exactly what logging.Formatter.formatException returns for `exc_info`, faster.

    Same TracebackException, same options as traceback.print_exception; only the rendering
    of frames already seen is reused (see `_CachingStackSummary`).
    """
    exc_type, exc_value, exc_tb = exc_info[0], exc_info[1], exc_info[2]
    if exc_value is None:
        exc_value = exc_type()
    te = traceback.TracebackException(type(exc_value), exc_value, exc_tb, compact=True)
    for linked in _tracebacks(te):
        if type(linked.stack) is traceback.StackSummary:
            linked.stack.__class__ = _CachingStackSummary
    text = "".join(te.format())
    return text[:-1] if text.endswith("\n") else text
