"""Safe writes: the error codes its refusals answer with, in the `errors` catalog."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafeWritesConfig(AppConfig):
    name = "safewrites"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from errors import catalog

        Category, Severity = catalog.Category, catalog.Severity
        catalog.register(
            "precondition_failed",
            status=412,
            category=Category.CONFLICT,
            severity=Severity.INFO,
            message=_("The resource was changed since you loaded it"),
            meaning="If-Match named a version that is no longer current: another request changed "
            "the resource. The ETag header and details.current_etag give the current version; "
            "load it again, or send that ETag as If-Match to overwrite it.",
        )
        catalog.register(
            "precondition_required",
            status=428,
            category=Category.REQUEST,
            severity=Severity.INFO,
            message=_("Say which version you change: send If-Match with the resource's ETag"),
            meaning="The service requires If-Match on PUT, PATCH and DELETE, so that no change "
            "overwrites another unseen; send the ETag of the version the change is based on.",
        )
        catalog.register(
            "idempotency_key_invalid",
            status=400,
            category=Category.REQUEST,
            severity=Severity.INFO,
            message=_("Invalid Idempotency-Key"),
            meaning="The Idempotency-Key header must be 1 to 255 characters of letters, digits "
            "and -_.:~+/=.",
        )
        catalog.register(
            "idempotency_in_progress",
            status=409,
            category=Category.CONFLICT,
            severity=Severity.INFO,
            message=_("A request with this Idempotency-Key is still in progress"),
            meaning="The first request sent with this key has not finished; retry after the "
            "seconds in Retry-After to get its answer.",
        )
        catalog.register(
            "idempotency_key_reused",
            status=422,
            category=Category.REQUEST,
            severity=Severity.INFO,
            message=_("This Idempotency-Key was used for a different request"),
            meaning="A key stands for one request: the same key came with another method, URL "
            "or body. Use a new key for a new operation.",
        )
