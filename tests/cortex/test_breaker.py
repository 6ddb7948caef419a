"""The circuit breaker: one WARNING per outage, one probe per cool-off, one INFO at the end."""

from __future__ import annotations

import threading

import pytest

from cortex.breaker import CircuitBreaker
from tests.conftest import JsonLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("Redis", cooloff=2.0, clock=clock)


def lines(json_log: JsonLog) -> list[tuple[str, str]]:
    return [
        (record["level"], record["message"])
        for record in json_log.records()
        if record["logger"] == "cortex.breaker"
    ]


def test_a_working_service_is_always_used(breaker: CircuitBreaker, json_log: JsonLog) -> None:
    for _ in range(3):
        assert breaker.allow()
        breaker.succeeded()
    assert not breaker.is_open
    assert lines(json_log) == []


def test_after_a_failure_the_service_is_skipped_for_the_cooloff(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    breaker.failed(ConnectionError())
    assert breaker.is_open
    assert not breaker.allow()
    clock.now += 1.9
    assert not breaker.allow()


def test_after_the_cooloff_one_caller_tries_while_the_others_still_skip(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    breaker.failed()
    clock.now += 2.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()
    assert not breaker.allow()


def test_a_probe_that_fails_starts_another_cooloff(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.failed()
    clock.now += 2.0
    assert breaker.allow()
    clock.now += 1.0  # the probe took a timeout
    breaker.failed()
    clock.now += 1.5
    assert not breaker.allow()
    clock.now += 0.5
    assert breaker.allow()


def test_a_probe_that_succeeds_closes_the_breaker(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.failed()
    clock.now += 2.0
    assert breaker.allow()
    breaker.succeeded()
    assert not breaker.is_open
    assert all(breaker.allow() for _ in range(3))


def test_an_outage_is_logged_once_when_it_begins_and_once_when_it_ends(
    breaker: CircuitBreaker, clock: Clock, json_log: JsonLog
) -> None:
    for _ in range(2):  # two outages
        breaker.failed(TimeoutError())
        for _ in range(5):
            clock.now += 2.0
            assert breaker.allow()
            breaker.failed(TimeoutError())
        clock.now += 2.5
        assert breaker.allow()  # the probe, whose success ends the outage
        breaker.succeeded()
        breaker.succeeded()
    assert (
        lines(json_log)
        == [
            (
                "WARNING",
                "Redis cannot be reached (TimeoutError); doing without it, trying again "
                "every 2.0 s",
            ),
            ("INFO", "Redis answers again after 12.5 s; using it again"),
        ]
        * 2
    )


def test_a_call_that_began_before_the_outage_does_not_end_it(
    breaker: CircuitBreaker, clock: Clock, json_log: JsonLog
) -> None:
    assert breaker.allow()  # a call begins while all is well...
    breaker.failed(ConnectionError())  # ...another fails meanwhile...
    breaker.succeeded()  # ...and then the first one answers
    assert breaker.is_open
    assert not breaker.allow()
    clock.now += 2.0
    assert breaker.allow()  # the probe
    breaker.succeeded()
    assert not breaker.is_open
    assert [level for level, _ in lines(json_log)] == ["WARNING", "INFO"]


def test_of_many_threads_past_the_cooloff_exactly_one_probes(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    breaker.failed()
    clock.now += 2.0
    allowed: list[bool] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == [False] * 15 + [True]
