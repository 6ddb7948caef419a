"""ASGI entry point: `daphne cortex.asgi:application` (any ASGI server serves it).

`/api/events/` is the Channels consumer that streams workspace events; everything else is Django.
Every HTTP request passes the body limit first (`errors.asgi.BodyLimitMiddleware`). Under daphne,
`cortex.server.install()` hardens the server this module is loaded into (docs/asgi.md).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cortex.settings")

from cortex import server  # noqa: E402

# Before the settings load: a traceback at start is a log line too.
server.log_uncaught_exceptions()

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

server.install()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from errors.asgi import BodyLimitMiddleware, CorrelationIdASGIMiddleware  # noqa: E402
from errors.limits import ConcurrencyLimitGate  # noqa: E402
from eventstream.flow import FlowControlMiddleware  # noqa: E402
from workspaces.consumers import WorkspaceEventsConsumer  # noqa: E402

# Channels routes ASGI applications where Django's path() expects views, hence the ignores.
events_app = FlowControlMiddleware(CorrelationIdASGIMiddleware(WorkspaceEventsConsumer.as_asgi()))

application = ProtocolTypeRouter(
    {
        # Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused before Django reads them; the API
        # takes JSON only, so multipart bodies get the same limit.
        "http": BodyLimitMiddleware(
            URLRouter(
                [
                    path("api/events/", events_app),  # type: ignore[arg-type]
                    # Requests wait for their turn here, before Django starts a thread for them.
                    re_path(r"", ConcurrencyLimitGate(django_asgi_app)),  # type: ignore[arg-type]
                ]
            ),
            limit_multipart=True,
        )
    }
)
