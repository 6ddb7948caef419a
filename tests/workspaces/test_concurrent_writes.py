"""Concurrent writes to one workspace, from two server processes on one database: PostgreSQL when
the suite runs on it, else a SQLite file. Edits made from one version give one 200 and one 412;
one Idempotency-Key creates one workspace however many processes receive it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.accounts import make_accounts
from tests.support.fixtures import DaphneFactory
from tests.support.node import database_url
from tests.support.servers import DaphneServer

# On PostgreSQL the servers use the test database, which they see only once data is committed.
pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/workspaces/"
TIMEOUT = 20.0


def two_servers(daphne_factory: DaphneFactory, url: str) -> tuple[DaphneServer, DaphneServer]:
    env = {"DATABASE_URL": url, "USER_THROTTLE_RATE": "100000/minute"}
    return daphne_factory(env), daphne_factory(env)


def client(server: DaphneServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=TIMEOUT
    )


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run `calls` in threads released together; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], httpx.Response]) -> None:
        barrier.wait()
        try:
            answers[index] = call()
        except BaseException as exc:  # reported by the assertion below
            answers[index] = exc

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 5)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    return answers


@contextmanager
def writes_held(url: str, workspace_id: str) -> Iterator[Callable[[], bool]]:
    """Hold back every write to the workspace until the block ends; yields "are two waiting?".

    PostgreSQL: a row lock, which UPDATEs wait for (readers do not). SQLite: the write lock,
    which the service's transactions take when they begin (readers go on, in WAL mode).
    """
    if url.startswith("sqlite:///"):
        writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")

        def after_a_while() -> bool:
            time.sleep(1.5)  # SQLite shows no waiting writers: give both time to reach the lock
            return True

        try:
            yield after_a_while
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        return
    with psycopg.connect(url, connect_timeout=5) as locker:
        locker.execute(
            "SELECT 1 FROM workspaces_workspace WHERE id = %s FOR UPDATE", [workspace_id]
        )

        def two_waiting() -> bool:
            row = locker.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            return bool(row and row[0] >= 2)

        yield two_waiting
        locker.rollback()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_two_edits_made_from_one_version_give_one_200_and_one_412(
    daphne_factory: DaphneFactory, tmp_path: Path
) -> None:
    url = database_url(tmp_path)
    token = make_accounts(url, ("editor",)).accounts["editor"]["token"]
    first, second = two_servers(daphne_factory, url)
    with client(first, token) as one, client(second, token) as other:
        created = one.post(LIST, json={"name": "Contended"})
        assert created.status_code == 201, created.text
        path = f"{LIST}{created.json()['id']}/"
        with writes_held(url, created.json()["id"]) as both_waiting:
            answers: list[httpx.Response] = []
            sender = threading.Thread(
                target=lambda: answers.extend(
                    at_once(
                        lambda: one.patch(
                            path, json={"description": "one"}, headers={"If-Match": '"1"'}
                        ),
                        lambda: other.patch(
                            path, json={"description": "two"}, headers={"If-Match": '"1"'}
                        ),
                    )
                )
            )
            sender.start()
            assert wait_for(both_waiting, 10.0), "the two edits never reached the lock"
        sender.join(TIMEOUT + 10)
        assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200)
        lost = next(a for a in answers if a.status_code == 412)
        assert won.headers["ETag"] == lost.headers["ETag"] == '"2"'
        assert lost.json()["error"]["details"] == {"current_etag": '"2"'}
        current = one.get(path).json()
        assert (current["version"], current["description"]) == (2, won.json()["description"])


def test_one_key_sent_to_two_processes_at_once_creates_one_workspace(
    daphne_factory: DaphneFactory, tmp_path: Path
) -> None:
    url = database_url(tmp_path)
    token = make_accounts(url, ("creator",)).accounts["creator"]["token"]
    first, second = two_servers(daphne_factory, url)
    headers = {"Idempotency-Key": "one-create"}
    with client(first, token) as one, client(second, token) as other:
        send = [
            (lambda c=c: c.post(LIST, json={"name": "Only once"}, headers=headers))
            for c in (one, other) * 4
        ]
        answers = at_once(*send)
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {201, 409}, [a.text for a in answers]
        originals = [
            a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers
        ]
        assert len(originals) == 1, [dict(a.headers) for a in answers]
        for busy in (a for a in answers if a.status_code == 409):
            assert busy.json()["error"]["code"] == "idempotency_in_progress"
            assert busy.headers["Retry-After"] == "1"
        # Every retry now gets the one answer.
        for c in (one, other):
            replay = c.post(LIST, json={"name": "Only once"}, headers=headers)
            assert replay.status_code == 201
            assert replay.headers["Idempotent-Replayed"] == "true"
            assert replay.json() == originals[0].json()
        listing = one.get(LIST).json()
        assert [w["name"] for w in listing["results"]] == ["Only once"]
