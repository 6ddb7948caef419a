"""The per-owner replay buffers, in memory and in Redis, behave the same."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from eventstream.replay import MemoryReplayBuffer, RedisReplayBuffer, ReplayBuffer, parse_id

pytestmark = pytest.mark.parametrize(
    "buffer", ["memory", pytest.param("redis", marks=pytest.mark.redis)], indirect=True
)


@pytest.fixture
def buffer(request: pytest.FixtureRequest) -> Iterator[ReplayBuffer]:
    if request.param == "memory":
        yield MemoryReplayBuffer(size=3)
        return
    redis_buffer = RedisReplayBuffer(request.getfixturevalue("redis_url"), size=3)
    yield redis_buffer
    redis_buffer.client.delete(*(redis_buffer._key(owner) for owner in (OWNER, OTHER)))


OWNER = random.randint(10**6, 10**7)
OTHER = OWNER + 1


def test_ids_increase_and_replay_returns_what_came_after(buffer: ReplayBuffer) -> None:
    ids = [buffer.append(OWNER, {"n": n}) for n in range(3)]
    parsed = [parse_id(i) for i in ids]
    assert parsed == sorted(parsed) and len(set(ids)) == 3  # type: ignore[type-var]
    replay = buffer.since(OWNER, ids[0])
    assert replay.complete
    assert replay.events == [(ids[1], {"n": 1}), (ids[2], {"n": 2})]
    assert buffer.since(OWNER, ids[2]).events == []


def test_owners_are_kept_apart(buffer: ReplayBuffer) -> None:
    first = buffer.append(OWNER, {"n": 0})
    buffer.append(OTHER, {"n": "other"})
    buffer.append(OWNER, {"n": 1})
    assert [e for _, e in buffer.since(OWNER, first).events] == [{"n": 1}]


def test_an_id_older_than_what_is_held_is_incomplete(buffer: ReplayBuffer) -> None:
    ids = [buffer.append(OWNER, {"n": n}) for n in range(5)]
    replay = buffer.since(OWNER, ids[0])
    assert not replay.complete
    assert [e["n"] for _, e in replay.events] == [2, 3, 4]


@pytest.mark.parametrize("bad", ["", "junk", "12", "-1-2"])
def test_an_id_that_is_not_ours_is_incomplete(buffer: ReplayBuffer, bad: str) -> None:
    buffer.append(OWNER, {"n": 0})
    replay = buffer.since(OWNER, bad)
    assert not replay.complete
    assert replay.events == []


@pytest.mark.parametrize(
    "never_issued",
    [
        "²-0",  # str.isdigit() takes "²", int() refuses it
        "٣-0",  # another script's digits: int() takes them, Redis does not
        "１-0",  # fullwidth
        "1_000-0",  # int() takes underscores
        " 1-0",
        "1-0\n",
        "0x1f-0",
        "9" * 30 + "-0",  # over 64 bits: Redis refuses it
        "1-" + "9" * 30,
        "9" * 5000 + "-0",  # past int()'s digit limit
        "18446744073709551616-0",  # 2**64
        "",
    ],
)
def test_a_malformed_id_is_unknown_and_never_an_error(
    buffer: ReplayBuffer, never_issued: str
) -> None:
    buffer.append(OWNER, {"n": 0})
    assert parse_id(never_issued) is None
    replay = buffer.since(OWNER, never_issued)
    assert not replay.complete
    assert replay.events == []


@pytest.mark.parametrize(
    "future",
    ["99999999999999-0", "18446744073709551615-18446744073709551615", "18446744073709551615-0"],
)
def test_an_id_newer_than_every_event_held_was_never_issued(
    buffer: ReplayBuffer, future: str
) -> None:
    ids = [buffer.append(OWNER, {"n": n}) for n in range(2)]
    replay = buffer.since(OWNER, future)
    assert not replay.complete
    assert replay.events == []
    # The newest id held is still known: nothing after it, nothing lost.
    newest = buffer.since(OWNER, ids[-1])
    assert newest.complete and newest.events == []


def test_ids_are_read_as_numbers_whatever_their_leading_zeros(buffer: ReplayBuffer) -> None:
    first, second = (buffer.append(OWNER, {"n": n}) for n in range(2))
    ms, seq = first.split("-")
    padded = f"000{ms}-00{seq}"
    assert parse_id(padded) == parse_id(first)
    replay = buffer.since(OWNER, padded)
    assert replay.complete
    assert replay.events == [(second, {"n": 1})]
