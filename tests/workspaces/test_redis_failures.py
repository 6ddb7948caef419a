"""The service when Redis fails, against the real service in a real daphne process.

Nothing is mocked: the service runs in its own process on the pytest test database, with Redis
reached through a `TcpProxy` that a test makes refuse connections (`cut`) or hold them open with
nothing answered (`hang`). Throughout an outage the API keeps answering (the throttles count in
the process), a new event stream is refused with 503 `redis_unavailable` within 2 s, the outage is
logged once, and everything works again once Redis does, without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from accounts.tokens import issue_token
from tests.support.accounts import forget_events
from tests.support.fixtures import DaphneFactory, ProxyFactory
from tests.support.servers import DaphneServer, current_database_url
from tests.support.tcp_proxy import TcpProxy
from tests.workspaces.test_postgres_failures import (
    assert_no_leaks,
    error_of,
    retry_after,
    timed,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIST = "/api/workspaces/"
EVENTS = "/api/events/"
TOKEN = "/api/auth/token/"
REDIS_TIMEOUT = 1.0  # the default REDIS_TIMEOUT_MS, which the server runs with
MARGIN = 1.0  # for a loaded test machine
STREAM_503_WITHIN = 2.0
OUTAGE_WARNING = "Redis cannot be reached"
RECOVERED_INFO = "Redis answers again"
# What a client must never be told of Redis or the network.
LEAKS = ("connectionerror", "timeouterror", "timeout reading", "error 111", "6379", "127.0.0.1")


def proxied_redis(redis_url: str, proxy_factory: ProxyFactory) -> tuple[TcpProxy, str]:
    """A proxy in front of the test's Redis, and the REDIS_URL that goes through it."""
    target = urlsplit(redis_url)
    proxy = proxy_factory(target.hostname or "127.0.0.1", target.port or 6379)
    return proxy, f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"


class Stream:
    """One `GET /api/events/`: its status, how long that took, and its events as they come."""

    lines: Any

    def __init__(self, client: httpx.Client) -> None:
        started = time.monotonic()
        request = client.build_request("GET", EVENTS, headers={"Accept": "text/event-stream"})
        self.response = client.send(request, stream=True)
        self.seconds = time.monotonic() - started
        if self.response.status_code == 200:
            self.lines = self.response.iter_lines()
        else:
            self.response.read()
            self.lines = None

    def wait_for_event(self, name: str, timeout: float = 5.0) -> None:
        assert self.lines is not None, self.response.status_code
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if line == f"event: {name}":
                return
            assert time.monotonic() < deadline, f"no {name} event within {timeout} s"
        raise AssertionError(f"the stream ended before {name}")

    def close(self) -> None:
        self.response.close()


def breaker_records(server: DaphneServer, message: str) -> list[dict[str, Any]]:
    return [
        record
        for record in server.log_records()
        if record.get("logger") == "cortex.breaker" and message in str(record.get("message"))
    ]


OUTAGES: dict[str, tuple[Callable[[TcpProxy], None], Callable[[TcpProxy], None]]] = {
    "refuse": (TcpProxy.cut, TcpProxy.restore),
    "hang": (TcpProxy.hang, TcpProxy.resume),
}


@pytest.mark.parametrize("mode", list(OUTAGES))
def test_a_redis_outage_is_not_an_api_outage_and_the_service_recovers_without_restart(
    mode: str, daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory, redis_url: str
) -> None:
    break_link, mend_link = OUTAGES[mode]
    # Hashed as the server checks it (the test settings use a fast hasher it does not know).
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = User.objects.create_user(f"redis-{mode}", password=f"redis-{mode}-password")
    key = issue_token(user).key
    # Keys a previous run may have left for this user id (ids repeat between runs).
    forget_events(redis_url, [user.pk], f"throttle_user_{user.pk}")
    proxy, proxied_url = proxied_redis(redis_url, tcp_proxy_factory)
    server = daphne_factory(
        {
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": proxied_url,
            "SSE_HEARTBEAT_SECONDS": "1",
        }
    )
    pid = server.pid
    login = {"username": user.username, "password": f"redis-{mode}-password"}
    answers: list[httpx.Response] = []
    slowest = 0.0

    def call(send: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> httpx.Response:
        nonlocal slowest
        response, seconds = timed(send, *args, **kwargs)
        answers.append(response)
        slowest = max(slowest, seconds)
        assert seconds <= REDIS_TIMEOUT + MARGIN, f"{args[0]} took {seconds:.2f} s"
        return response

    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=15.0
    ) as api:
        assert api.post(LIST, json={"name": "before"}).status_code == 201
        before = Stream(api)
        assert before.response.status_code == 200
        before.wait_for_event("connection_established")
        before.close()
        time.sleep(0.3)  # the stream's group leave reaches Redis before the link breaks

        break_link(proxy)
        outage_began = time.monotonic()

        # The first thing to meet the outage is a new stream: the channel layer's own
        # deadline answers it, not the breaker.
        refused = Stream(api)
        error_of(refused.response, 503, "redis_unavailable")
        assert retry_after(refused.response) == 5
        assert_no_leaks(refused.response, *LEAKS, str(proxy.port))
        assert refused.seconds <= STREAM_503_WITHIN, f"503 took {refused.seconds:.2f} s"
        first_stream_seconds = refused.seconds
        refused.close()

        # The API goes on: throttles count in the process, events are not published.
        assert call(api.get, LIST).status_code == 200
        assert call(api.post, LIST, json={"name": f"during-{mode}"}).status_code == 201
        token = call(api.post, TOKEN, json=login, headers={"Authorization": ""})
        assert token.status_code == 200, token.text
        # Past the breaker's cool-off one request tries Redis again, and pays the timeout.
        time.sleep(2.1)
        assert call(api.get, LIST).status_code == 200
        assert call(api.post, LIST, json={"name": f"after-probe-{mode}"}).status_code == 201

        again = Stream(api)
        error_of(again.response, 503, "redis_unavailable")
        retry_after(again.response)
        assert again.seconds <= STREAM_503_WITHIN, f"503 took {again.seconds:.2f} s"
        again.close()

        assert len(breaker_records(server, OUTAGE_WARNING)) == 1, server.log_records()[-20:]
        (warning,) = breaker_records(server, OUTAGE_WARNING)
        assert warning["level"] == "WARNING"
        outage_seconds = time.monotonic() - outage_began

        mend_link(proxy)
        mended = time.monotonic()

        def streams_again() -> bool:
            stream = Stream(api)
            if stream.response.status_code != 200:
                stream.close()
                return False
            stream.wait_for_event("connection_established")
            created = api.post(LIST, json={"name": f"recovered-{mode}-{time.monotonic()}"})
            assert created.status_code == 201, created.text
            stream.wait_for_event("workspace.created")
            stream.close()
            return True

        recovered = wait_for(streams_again, timeout=10.0)
        assert recovered is not None, "no stream with live events within 10 s of the link"
        recovery_seconds = time.monotonic() - mended
        assert call(api.get, LIST).status_code == 200
        token = call(api.post, TOKEN, json=login, headers={"Authorization": ""})
        assert token.status_code == 200, token.text

    assert server.running and server.pid == pid, "daphne was restarted"
    assert [r.status_code for r in answers if r.status_code >= 500] == []
    assert len(breaker_records(server, OUTAGE_WARNING)) == 1
    assert len(breaker_records(server, RECOVERED_INFO)) == 1
    assert not [r for r in server.log_records() if r.get("error_code") == "internal_error"]
    # The throttle counts reach Redis again.
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        assert any(client.scan_iter(match=f"*throttle_user_{user.pk}*"))
    finally:
        client.close()
    print(
        f"{mode}: new stream 503 in {first_stream_seconds:.2f} s (then {again.seconds:.2f} s), "
        f"slowest API call {slowest:.2f} s, 1 WARNING in a {outage_seconds:.1f} s outage, "
        f"live events again {recovery_seconds:.2f} s after the link came back"
    )
