"""ASGI entry point: `daphne cortex.asgi:application` (any ASGI server serves it).

`/api/events/` is the Channels consumer that streams workspace events; everything else is Django.
Every HTTP request passes the body limit first (`errors.asgi.BodyLimitMiddleware`). Under daphne,
`cortex.server.install()` hardens the server this module is loaded into (docs/asgi.md).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cortex.settings")

from cortex import process, server  # noqa: E402

# Before the settings load: a traceback at start is a log line too.
process.log_uncaught_exceptions()

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

server.install()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from errors.asgi import BodyLimitMiddleware, CorrelationIdASGIMiddleware  # noqa: E402
from errors.limits import ConcurrencyLimitGate  # noqa: E402
from eventstream.flow import FlowControlMiddleware  # noqa: E402
from workspaces.consumers import WorkspaceEventsConsumer  # noqa: E402

# Channels routes ASGI applications where Django's path() expects views, hence the ignores. Bodies
# over DATA_UPLOAD_MAX_MEMORY_SIZE are refused before anything reads them (multipart ones too: the
# API takes JSON). FlowControlMiddleware stays outermost: it needs the server's own `send`.
events_app = FlowControlMiddleware(
    BodyLimitMiddleware(
        CorrelationIdASGIMiddleware(WorkspaceEventsConsumer.as_asgi()), limit_multipart=True
    )
)
# Requests wait for their turn in the gate, before Django starts a thread for them.
django_app = BodyLimitMiddleware(ConcurrencyLimitGate(django_asgi_app), limit_multipart=True)

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                path("api/events/", events_app),  # type: ignore[arg-type]
                re_path(r"", django_app),  # type: ignore[arg-type]
            ]
        )
    }
)
