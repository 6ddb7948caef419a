from django.urls import path

from . import views

urlpatterns = [
    path("drf/raise/<str:kind>", views.drf_raise),
    path("plain/raise/<str:kind>", views.plain_raise),
    path("drf/code/<str:code>", views.drf_code),
    path("plain/code/<str:code>", views.plain_code),
    path("drf/validate", views.drf_validate),
    path("drf/validate-many", views.drf_validate_many),
    path("drf/ok", views.drf_ok),
    path("async/echo", views.async_echo),
    path("async/hold", views.async_hold),
    path("sync/hold", views.sync_hold),
    path("plain/get-only", views.plain_get_only),
    path("plain/streaming", views.plain_streaming),
    path("plain/own-json-error", views.plain_own_json_error),
    path("log/unserializable", views.log_unserializable),
    path("db/unique", views.db_unique),
    path("db/foreign-key", views.db_foreign_key),
    path("db/timeout", views.db_timeout),
    path("db/unreachable", views.db_unreachable),
    path("db/write-then-conflict", views.write_then_conflict),
    path("db/plain-write-then-conflict", views.plain_write_then_conflict),
    path("plain/status/<int:status>", views.plain_status),
    path("db/measurement", views.db_measurement),
    path("db/too-long", views.db_too_long),
    path("db/invalid-value", views.db_invalid_value),
    path("db/error", views.db_error),
    path("db/not-updated/<str:how>", views.db_not_updated),
    path("db/fetch-blocked/<str:what>", views.db_fetch_blocked),
    path("idempotent/parents", views.IdempotentParents.as_view()),
]
