"""ASGI entry point: `daphne cortex.asgi:application`.

`/api/events/` is the Channels consumer that streams workspace events (the eventstream app, behind
the errors app's ASGI correlation-id middleware; it authenticates the token or session itself
with DRF's authentication classes, so it needs no Channels auth middleware per stream);
everything else is Django.

Under daphne, `cortex.server.install()` hardens the server this module is loaded into (bodies
refused while they arrive, a header deadline, a JSON access log, the open-file limit; see
cortex/server.py; DAPHNE_HOOKS=false turns it off): daphne builds its HTTP factory and access log
only after it imported the application, so `daphne cortex.asgi:application` needs no flags.
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

from errors.asgi import CorrelationIdMiddleware  # noqa: E402
from errors.limits import ConcurrencyLimitGate  # noqa: E402
from eventstream.flow import FlowControlMiddleware  # noqa: E402
from workspaces.consumers import WorkspaceEventsConsumer  # noqa: E402

# Channels routes ASGI applications where Django's path() expects views, hence the ignores.
events_app = FlowControlMiddleware(CorrelationIdMiddleware(WorkspaceEventsConsumer.as_asgi()))

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                path("api/events/", events_app),  # type: ignore[arg-type]
                # Requests wait for their turn here, before Django starts a thread for them.
                re_path(r"", ConcurrencyLimitGate(django_asgi_app)),  # type: ignore[arg-type]
            ]
        )
    }
)
