"""Live events over Server-Sent Events."""

from django.apps import AppConfig


class EventStreamConfig(AppConfig):
    """Registers the app's error code (`stream_lagging`) with the `errors` catalog and makes the
    open-streams gauge (`eventstream.metrics`)."""

    name = "eventstream"
    verbose_name = "Event streams"

    def ready(self) -> None:
        # `stream_lagging` is registered when `streams` is imported, next to its exception.
        from . import streams  # noqa: F401
        from .metrics import open_streams

        open_streams()  # before any request, so that /metrics lists it from the first scrape
