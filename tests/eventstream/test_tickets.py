"""Stream tickets: issued with a lifetime, stored hashed, spent by their first use."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from eventstream import tickets
from eventstream.models import StreamTicket


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="pw")


def test_a_ticket_is_random_and_only_its_hash_is_stored(alice: User, settings: Any) -> None:
    settings.SSE_TICKET_TTL_SECONDS = 20
    before = timezone.now()
    first, second = tickets.issue(alice.pk), tickets.issue(alice.pk)

    assert first.ticket != second.ticket
    assert len(first.ticket) == tickets.TICKET_LENGTH
    assert (
        before + timedelta(seconds=20) <= first.expires_at <= timezone.now() + timedelta(seconds=20)
    )
    stored = set(StreamTicket.objects.values_list("digest", flat=True))
    assert stored == {hashlib.sha256(t.ticket.encode()).hexdigest() for t in (first, second)}
    assert first.ticket not in stored


def test_a_ticket_works_once(alice: User) -> None:
    ticket = tickets.issue(alice.pk).ticket
    assert tickets.redeem(ticket) == alice.pk
    with pytest.raises(tickets.TicketRefused, match="may have been used already"):
        tickets.redeem(ticket)


def test_an_expired_ticket_is_refused_and_spent(alice: User) -> None:
    ticket = tickets.issue(alice.pk).ticket
    StreamTicket.objects.update(expires_at=timezone.now() - timedelta(milliseconds=1))
    with pytest.raises(tickets.TicketRefused, match="^Ticket has expired.$"):
        tickets.redeem(ticket)
    assert not StreamTicket.objects.exists()


@pytest.mark.parametrize("ticket", ["", "short", "a" * 44, "a/b+c=" * 7 + "a", "ä" * 43])
def test_what_is_not_shaped_like_a_ticket_is_refused_without_a_query(
    ticket: str, db: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0), pytest.raises(tickets.TicketRefused, match="^Invalid"):
        tickets.redeem(ticket)


def test_issuing_a_ticket_clears_the_expired_ones(alice: User) -> None:
    stale = tickets.issue(alice.pk)
    StreamTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = tickets.issue(alice.pk)
    assert list(StreamTicket.objects.values_list("expires_at", flat=True)) == [fresh.expires_at]
    with pytest.raises(tickets.TicketRefused):
        tickets.redeem(stale.ticket)


@pytest.mark.parametrize("seconds", [0, 61])
def test_a_lifetime_beyond_a_minute_or_below_a_second_is_a_configuration_error(
    db: None, seconds: int, settings: Any
) -> None:
    settings.SSE_TICKET_TTL_SECONDS = seconds
    with pytest.raises(ImproperlyConfigured, match="SSE_TICKET_TTL_SECONDS must be from 1 to 60"):
        tickets.issue(1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_concurrent_uses_of_one_ticket_exactly_one_wins() -> None:
    """The database decides: each redemption runs in its own connection, all at once."""
    alice = User.objects.create_user("alice", password="pw")
    ticket = tickets.issue(alice.pk).ticket
    start = threading.Barrier(8)
    outcomes: list[object] = []

    def use() -> None:
        try:
            start.wait()
            try:
                outcomes.append(tickets.redeem(ticket))
            except tickets.TicketRefused as exc:
                outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert (
        sorted(outcomes, key=str)
        == [alice.pk] + ["Invalid ticket; it may have been used already."] * 7
    )
