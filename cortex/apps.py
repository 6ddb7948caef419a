"""The service as an app: what it sets up at start-up."""

from django.apps import AppConfig


class CortexConfig(AppConfig):
    """Has the `errors` handler answer Redis outages as 503 `redis_unavailable`
    (`cortex.redis_guard.answer_outages`)."""

    name = "cortex"
    verbose_name = "Cortex"

    def ready(self) -> None:
        from .redis_guard import answer_outages

        answer_outages()
