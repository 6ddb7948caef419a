"""The optional webhook of `workspace.created` events (WORKSPACE_WEBHOOK_URL).

When the setting is set, `events.publish` calls `notify_workspace_created` once the create is
committed. It enqueues the Django task `workspaces.tasks.deliver_webhook` (TASKS: a row of the
database, run by `manage.py db_worker`) with the correlation id and trace of the request that
created the workspace (`errors.tasks.enqueue`); the worker POSTs the event as JSON, with
`X-Correlation-ID`, `traceparent` and `X-Cortex-Event` headers, and logs under that id.

- Each run of the task makes one attempt, bounded by WORKSPACE_WEBHOOK_TIMEOUT_MS (connect,
  write and each read).
- Connection failures, timeouts, 5xx, 408 and 429 are retried, up to WORKSPACE_WEBHOOK_ATTEMPTS
  attempts in all: the failed run enqueues the next attempt to run WORKSPACE_WEBHOOK_BACKOFF_MS
  later, twice as long before each further one (no worker waits meanwhile). Other answers (2xx
  aside) are not retried: asking again would not help.
- A delivery that finally fails is logged once, at WARNING, on `workspaces.webhooks` (with the
  service name, reason, upstream status and correlation id; never the URL, which may hold a
  secret, nor what the receiver answered) and counted in `external_call_failures_total` (and in
  this process's `webhook_failures()`) by reason. The task itself ends normally.
- A bug of ours while delivering is counted (`internal_error`) and raised: the task fails, and
  `errors.tasks` logs it once at ERROR.
- Nothing of this ever fails or slows the create request: it only writes the task's row.

Delivery is at least once as far as django-tasks-db allows: a stopped worker (SIGTERM) finishes
the attempt it is running; a worker that dies mid-attempt leaves that run RUNNING, and
django-tasks-db never runs it again (see README, "Background tasks").

With CELERY_BROKER_URL set, the event is published instead to Redis as a Celery task
(`workspaces.tasks.deliver_workspace_created`), which a worker runs: one attempt per run, a
retryable failure becomes a Celery retry after the same backoff (each logged at WARNING by
`errors.celery`), and the final failure is logged once and counted as above. The task is
acknowledged only when done, so a worker killed mid-delivery does not lose it. It carries the
request's correlation id and trace in its headers (`errors.celery`), and so does every line the
worker logs for it and its outgoing request.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import httpx
import orjson
from django.utils import timezone

from errors import metrics
from errors.exceptions import ExternalServiceException
from errors.external import (
    BAD_STATUS,
    CONNECTION_ERROR,
    TIMEOUT,
    correlation_headers,
    external_service,
)
from errors.tasks import enqueue

from .conf import workspaces_settings

logger = logging.getLogger(__name__)

SERVICE_NAME: Final = "workspace_webhook"
# The reason counted besides those of `errors.external`: a bug of ours while delivering.
INTERNAL_ERROR: Final = "internal_error"

_RETRIED_STATUSES: Final = frozenset({408, 429})
_MAX_BACKOFF: Final = 30.0

_lock = threading.Lock()
_failures: Counter[str] = Counter()


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where and how to deliver; read from settings when the event is published."""

    url: str
    timeout: float
    attempts: int
    backoff: float

    @classmethod
    def from_settings(cls) -> WebhookConfig | None:
        """The configuration, or None when WORKSPACE_WEBHOOK_URL is not set."""
        url = workspaces_settings.webhook_url
        if url is None:
            return None
        return cls(
            url=url,
            timeout=workspaces_settings.webhook_timeout,
            attempts=workspaces_settings.webhook_attempts,
            backoff=workspaces_settings.webhook_backoff,
        )


# --- counting --------------------------------------------------------------------------------


def record_failure(reason: str) -> None:
    """Count one failed delivery. The one place a failure is counted (metrics hook in here)."""
    with _lock:
        _failures[reason] += 1
    m = metrics.metrics()
    if m is not None:
        m.labels(m.external_failures, SERVICE_NAME, reason).inc()


def webhook_failures() -> dict[str, int]:
    """Failed deliveries since start (or the last reset), by reason."""
    with _lock:
        return dict(_failures)


def reset_webhook_failures() -> None:
    """Forget the counted failures (for tests)."""
    with _lock:
        _failures.clear()


# --- delivery --------------------------------------------------------------------------------


def _retryable(exc: ExternalServiceException) -> bool:
    reason = exc.details.get("reason")
    if reason in (CONNECTION_ERROR, TIMEOUT):
        return True
    status = exc.details.get("upstream_status")
    return (
        reason == BAD_STATUS
        and status is not None
        and (status >= 500 or status in _RETRIED_STATUSES)
    )


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One event to deliver, serialized once per attempt."""

    body: bytes
    event_type: str
    workspace_id: str | None
    correlation_id: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> _Delivery:
        workspace = event.get("workspace")
        workspace_id = workspace.get("id") if isinstance(workspace, dict) else None
        correlation_id = event.get("correlation_id")
        return cls(
            body=orjson.dumps(event),
            event_type=str(event.get("type", "")),
            workspace_id=None if workspace_id is None else str(workspace_id),
            correlation_id=correlation_id if isinstance(correlation_id, str) else None,
        )


def _headers(delivery: _Delivery) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "cortex-webhook/1",
        "X-Cortex-Event": delivery.event_type,
        **correlation_headers(),
    }


def _attempt(
    client: httpx.Client, delivery: _Delivery, config: WebhookConfig, attempt: int
) -> ExternalServiceException | None:
    """POST once; None when the receiver accepted it, else the failure."""
    try:
        with (
            external_service(SERVICE_NAME),
            # Streamed and never read: the receiver's answer is its status, not a body.
            client.stream(
                "POST", config.url, content=delivery.body, headers=_headers(delivery)
            ) as response,
        ):
            response.raise_for_status()
    except ExternalServiceException as exc:
        return exc
    logger.debug(
        "Delivered %s to the webhook (attempt %d)",
        delivery.event_type,
        attempt,
        extra={"service_name": SERVICE_NAME, "attempt": attempt},
    )
    return None


def _retry_delay(config: WebhookConfig, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    return float(min(config.backoff * 2 ** (attempt - 1), _MAX_BACKOFF))


def _log_failure(delivery: _Delivery, failure: ExternalServiceException, attempts: int) -> None:
    reason = str(failure.details.get("reason") or "unknown")
    record_failure(reason)
    upstream_status = failure.details.get("upstream_status")
    cause = failure.__cause__
    logger.warning(
        "Webhook delivery of %s failed after %d attempt(s): %s%s",
        delivery.event_type,
        attempts,
        reason,
        f" (upstream status {upstream_status})" if upstream_status is not None else "",
        extra={
            "service_name": SERVICE_NAME,
            "reason": reason,
            "upstream_status": upstream_status,
            "attempts": attempts,
            "status_code": failure.status_code,
            "error_type": type(cause).__name__ if cause is not None else None,
            "event_type": delivery.event_type,
            "workspace_id": delivery.workspace_id,
        },
    )


def _try_once(
    event: dict[str, Any], attempt: int
) -> tuple[_Delivery, WebhookConfig, ExternalServiceException | None] | None:
    """Make attempt number `attempt`; None without a webhook, else what it gave (a failure or
    None). A bug of ours is counted and raised."""
    try:
        config = WebhookConfig.from_settings()
        if config is None:
            return None
        delivery = _Delivery.of(event)
        with httpx.Client(timeout=config.timeout, follow_redirects=False) as client:
            return delivery, config, _attempt(client, delivery, config, attempt)
    except Exception:
        record_failure(INTERNAL_ERROR)
        raise


def deliver_attempt(event: dict[str, Any], attempt: int) -> bool:
    """The body of the Django task: one attempt, then the next one enqueued or the final failure.

    A retryable failure enqueues attempt `attempt + 1` to run after the webhook's backoff (under
    the same correlation id and trace); the last failure is logged and counted here, and the
    task ends normally. A bug of ours is counted and raised, for `errors.tasks` to log once.
    True once the receiver accepted the event.
    """
    tried = _try_once(event, attempt)
    if tried is None:
        return False
    delivery, config, failure = tried
    if failure is None:
        return True
    if attempt < config.attempts and _retryable(failure):
        delay = _retry_delay(config, attempt)
        logger.info(
            "Webhook attempt %d/%d failed (%s); retrying in %.2fs",
            attempt,
            config.attempts,
            failure.details.get("reason"),
            delay,
            extra={"service_name": SERVICE_NAME, "attempt": attempt},
        )
        try:
            _enqueue_attempt(event, attempt + 1, delay)
        except Exception:
            record_failure(INTERNAL_ERROR)
            raise
        return False
    _log_failure(delivery, failure, attempt)
    return False


def deliver_in_task(task: Any, event: dict[str, Any]) -> bool:
    """The body of the Celery task: one attempt, then a Celery retry or the final failure.

    A retryable failure raises the task's `Retry` (the task runs again after the webhook's
    backoff); the last failure is logged and counted here, and the task ends normally. A bug
    of ours is counted and raised, for `errors.celery` to log once.
    """
    attempt = int(task.request.retries or 0) + 1
    tried = _try_once(event, attempt)
    if tried is None:
        return False
    delivery, config, failure = tried
    if failure is None:
        return True
    if attempt < config.attempts and _retryable(failure):
        raise task.retry(
            exc=failure, countdown=_retry_delay(config, attempt), max_retries=config.attempts - 1
        )
    _log_failure(delivery, failure, attempt)
    return False


def _enqueue_attempt(event: dict[str, Any], attempt: int, delay: float = 0.0) -> None:
    # Imported here: workspaces.tasks imports this module.
    from workspaces.tasks import deliver_webhook

    task = deliver_webhook
    if delay > 0:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    enqueue(task, event, attempt=attempt)


def _publish(event: dict[str, Any]) -> None:
    # Imported here: the Celery app exists only for projects that set CELERY_BROKER_URL.
    from workspaces.tasks import deliver_workspace_created

    deliver_workspace_created.apply_async(args=(event,))


def notify_workspace_created(event: dict[str, Any]) -> None:
    """Queue `event` for the webhook, if one is configured; never raises.

    With CELERY_BROKER_URL the event is published as a Celery task; otherwise it is enqueued as
    the Django task `workspaces.tasks.deliver_webhook`. Called once the create has committed.
    """
    try:
        if WebhookConfig.from_settings() is None:
            return
        if workspaces_settings.celery_enabled:
            _publish(event)
        else:
            _enqueue_attempt(event, 1)
    except Exception:
        record_failure(INTERNAL_ERROR)
        logger.exception(
            "Could not queue the webhook delivery of %s",
            event.get("type"),
            extra={"service_name": SERVICE_NAME, "reason": INTERNAL_ERROR},
        )
