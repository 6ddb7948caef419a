"""Stack `errors+trace`: the `errors` stack answering requests that carry a W3C `traceparent`.

The requests of this stack carry the header (bench/overhead.py adds it): the middleware parses it,
continues the trace with a span of the request's own, every log line gets `trace_id` and
`span_id`, and the response `traceresponse`. The `errors` stack gets the same requests without it.
"""

from __future__ import annotations

from .settings_errors import *  # noqa: F403

ERRORS_TRACE_RESPONSE_HEADER = True
