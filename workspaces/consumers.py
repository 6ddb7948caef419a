"""`GET /api/events/`: the caller's workspace events, live (the `eventstream` app)."""

from eventstream.consumers import EventStreamConsumer

from .events import WORKSPACE_EVENTS


class WorkspaceEventsConsumer(EventStreamConsumer):
    """Streams the authenticated caller's workspace events until the client goes away."""

    topic = WORKSPACE_EVENTS
