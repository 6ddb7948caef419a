"""The service as an app: what it sets up at start-up."""

from django.apps import AppConfig


class CortexConfig(AppConfig):
    """Registers `redis_unavailable` and has the `errors` handler answer Redis outages with it
    (`cortex.redis_guard.answer_outages`)."""

    name = "cortex"
    verbose_name = "Cortex"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from errors import catalog

        from .redis_guard import answer_outages

        catalog.register(
            "redis_unavailable",
            status=503,
            category=catalog.Category.UNAVAILABLE,
            severity=catalog.Severity.WARNING,
            message=gettext_lazy("Service temporarily unavailable"),  # errors translates it
            meaning="This operation needs Redis, which cannot be reached; retry after the "
            "seconds in Retry-After.",
        )
        answer_outages()
