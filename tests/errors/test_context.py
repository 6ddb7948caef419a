"""`errors.context`: the correlation id of the work in progress, and which offered ids are kept."""

from __future__ import annotations

import asyncio
import random
import re
import uuid

import pytest

from errors.context import (
    accept_correlation_id,
    get_correlation_id,
    is_valid_correlation_id,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)

# offered id, kept as it is
OFFERED: list[tuple[str | None, bool]] = [
    ("5f0c2a1e-7b1d-4c55-9a3e-0d6b8f1c2e4a", True),
    ("0af7651916cd43dd8448eb211c80319c", True),  # a W3C trace id
    ("req.1:abc_DEF-2", True),
    ("a" * 128, True),
    ("a" * 129, False),
    ("", False),
    (None, False),
    ("has space", False),
    ("line\nbreak", False),
    ("header\r\nX-Evil: 1", False),
    ("é", False),
    ("semi;colon", False),
]


@pytest.mark.parametrize(("offered", "kept"), OFFERED)
def test_which_offered_ids_are_kept(offered: str | None, kept: bool) -> None:
    assert is_valid_correlation_id(offered) is kept
    accepted = accept_correlation_id(offered)
    if kept:
        assert accepted == offered
    else:
        assert accepted != offered
        assert is_valid_correlation_id(accepted)


def test_a_new_id_is_a_canonical_uuid4() -> None:
    ids = {new_correlation_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in list(ids)[:50]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert re.fullmatch(r"[0-9a-f-]{36}", value)


def test_new_ids_do_not_come_from_the_seedable_process_generator() -> None:
    # Ids from Python's Mersenne Twister repeat after the same seed, and its state can be
    # recovered from enough outputs: an observer could predict other requests' ids.
    random.seed(0)
    first = new_correlation_id()
    random.seed(0)
    assert new_correlation_id() != first


def test_set_and_reset_restore_the_previous_id() -> None:
    assert get_correlation_id() is None
    outer = set_correlation_id("outer")
    inner = set_correlation_id("inner")
    assert get_correlation_id() == "inner"
    reset_correlation_id(inner)
    assert get_correlation_id() == "outer"
    reset_correlation_id(outer)
    assert get_correlation_id() is None


def test_concurrent_tasks_keep_their_own_ids() -> None:
    async def work(value: str) -> str | None:
        set_correlation_id(value)
        await asyncio.sleep(0)
        return get_correlation_id()

    async def main() -> list[str | None]:
        return list(await asyncio.gather(*(work(f"task-{n}") for n in range(20))))

    assert asyncio.run(main()) == [f"task-{n}" for n in range(20)]
    assert get_correlation_id() is None
