"""`errors.tasks`: background failures are logged once, with the correlation id of the request
that started the work; cancellation is not a failure."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from errors.context import get_correlation_id, reset_correlation_id, set_correlation_id
from errors.tasks import (
    BackgroundTasks,
    ContextThread,
    handle_background_errors,
    run_in_context,
    start_thread,
)
from tests.conftest import JsonLog


class Boom(Exception):
    pass


def problems(log: JsonLog) -> list[dict[str, Any]]:
    """Lines at WARNING and above, from any logger (asyncio's complaints included)."""
    return [r for r in log.records() if r["level"] in {"WARNING", "ERROR", "CRITICAL"}]


def as_request(correlation_id: str) -> Any:
    """Make `correlation_id` current, as the middleware does for a request."""

    class Request:
        def __enter__(self) -> None:
            self.token = set_correlation_id(correlation_id)

        def __exit__(self, *exc: object) -> None:
            reset_correlation_id(self.token)

    return Request()


@pytest.fixture
def log(json_log: JsonLog) -> Iterator[JsonLog]:
    yield json_log


# --- the decorator ---------------------------------------------------------------------------


def test_decorated_task_failure_is_logged_once_with_the_creating_requests_id(
    log: JsonLog,
) -> None:
    @handle_background_errors
    async def reindex() -> None:
        await asyncio.sleep(0)
        raise Boom("index gone")

    async def main() -> None:
        tasks = BackgroundTasks()
        with as_request("req-a"):
            first = tasks.start_task(reindex(), name="reindex-a")
        with as_request("req-b"):
            second = tasks.start_task(reindex(), name="reindex-b")
        assert get_correlation_id() is None
        # The failure is re-raised: it is the task's outcome for whoever awaits it.
        for task in (first, second):
            with pytest.raises(Boom):
                await task
        await asyncio.sleep(0)  # done callbacks
        assert len(tasks) == 0

    asyncio.run(main())
    lines = problems(log)
    assert [(r["logger"], r["level"], r["correlation_id"]) for r in lines] == [
        ("errors.tasks", "ERROR", "req-a"),
        ("errors.tasks", "ERROR", "req-b"),
    ]
    line = lines[0]
    assert line["task"] == reindex.__qualname__
    assert line["exception"]["type"].endswith("Boom")
    assert "index gone" in line["exception"]["traceback"]
    assert "reindex" in line["message"]


def test_decorator_names_the_task_and_keeps_the_function(log: JsonLog) -> None:
    @handle_background_errors(name="nightly-report")
    async def report(x: int) -> int:
        return x * 2

    assert inspect.iscoroutinefunction(report)
    assert report.__name__ == "report"
    assert asyncio.run(report(21)) == 42

    @handle_background_errors(name="nightly-report")
    async def failing() -> None:
        raise Boom

    with pytest.raises(Boom):
        asyncio.run(failing())
    assert [r["task"] for r in problems(log)] == ["nightly-report"]


def test_sync_function_failure_is_logged_once_and_re_raised(log: JsonLog) -> None:
    @handle_background_errors
    def inner() -> None:
        raise Boom("sync")

    @handle_background_errors
    def outer() -> None:
        inner()

    @handle_background_errors
    def fine(value: int) -> int:
        return value + 1

    assert fine(1) == 2
    with as_request("req-sync"), pytest.raises(Boom):
        outer()
    lines = problems(log)
    assert len(lines) == 1, lines  # the outer decorator does not log it again
    assert lines[0]["correlation_id"] == "req-sync"
    assert lines[0]["task"] == inner.__qualname__


def test_system_exit_and_cancellation_pass_through_unlogged(log: JsonLog) -> None:
    @handle_background_errors
    def leave() -> None:
        raise SystemExit(3)

    @handle_background_errors
    async def wait_forever() -> None:
        await asyncio.sleep(60)

    with pytest.raises(SystemExit):
        leave()

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(wait_forever())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert problems(log) == []


# --- BackgroundTasks -------------------------------------------------------------------------


def test_undecorated_failure_is_logged_by_the_done_callback_once(log: JsonLog) -> None:
    async def sync_mail() -> None:
        # Changing the id inside the task does not change whose failure it is.
        set_correlation_id("changed-inside")
        raise Boom("smtp down")

    async def main() -> asyncio.Task[None]:
        tasks = BackgroundTasks()
        with as_request("req-mail"):
            task = tasks.start_task(sync_mail(), name="mail")
        await asyncio.wait([task])
        await asyncio.sleep(0)
        return task

    task = asyncio.run(main())
    assert isinstance(task.exception(), Boom)
    lines = problems(log)  # and no "Task exception was never retrieved" from asyncio
    assert [(r["logger"], r["correlation_id"], r["task"]) for r in lines] == [
        ("errors.tasks", "req-mail", "mail")
    ]


def test_decorated_failure_is_not_logged_again_by_the_done_callback(log: JsonLog) -> None:
    @handle_background_errors
    async def job() -> None:
        raise Boom

    async def main() -> None:
        tasks = BackgroundTasks()
        task = tasks.start_task(job(), name="job")
        await asyncio.wait([task])
        await asyncio.sleep(0)

    asyncio.run(main())
    assert len(problems(log)) == 1


def test_cancel_all_cancels_and_awaits_every_task_without_logging_errors(log: JsonLog) -> None:
    cleaned: list[str] = []

    async def worker(name: str, tasks: BackgroundTasks) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits
            cleaned.append(name)
            if name == "spawner":  # started while shutting down: cancelled as well
                tasks.start_task(worker("late", tasks), name="late")

    @handle_background_errors
    async def decorated() -> None:
        await asyncio.sleep(60)

    async def main() -> list[asyncio.Task[None]]:
        tasks = BackgroundTasks()
        started = [tasks.start_task(worker(n, tasks), name=n) for n in ("a", "b", "spawner")]
        started.append(tasks.start_task(decorated(), name="decorated"))
        await asyncio.sleep(0.01)
        assert len(tasks) == 4
        await tasks.cancel_all()
        assert len(tasks) == 0
        assert tasks.tasks == frozenset()
        return started

    started = asyncio.run(main())
    assert all(task.cancelled() for task in started)
    assert sorted(cleaned) == ["a", "b", "late", "spawner"]
    assert problems(log) == []


def test_cancel_all_gives_up_after_its_timeout(log: JsonLog) -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # takes its time to stop

    async def main() -> float:
        tasks = BackgroundTasks()
        task = tasks.start_task(stubborn(), name="stubborn")
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await tasks.cancel_all(timeout=0.05)
        took = loop.time() - began
        await task
        return took

    assert asyncio.run(main()) < 0.25
    lines = problems(log)
    assert [(r["level"], r["tasks"]) for r in lines] == [("WARNING", ["stubborn"])]


def test_tasks_are_held_until_done() -> None:
    async def main() -> None:
        tasks = BackgroundTasks()
        done = asyncio.Event()

        async def job() -> None:
            await done.wait()

        task = tasks.start_task(job())
        assert task in tasks.tasks
        done.set()
        await task
        await asyncio.sleep(0)
        assert task not in tasks.tasks

    asyncio.run(main())


# --- threads ---------------------------------------------------------------------------------


def test_thread_started_from_a_request_keeps_its_correlation_id(log: JsonLog) -> None:
    seen: dict[str, str | None] = {}

    def work(key: str, *, note: str) -> None:
        seen[key] = get_correlation_id()
        logging.getLogger("workspaces.test").warning("working on %s", note)

    with as_request("req-thread"):
        ours = start_thread(work, "ours", note="ours")
        plain = threading.Thread(target=work, args=("plain",), kwargs={"note": "plain"})
        plain.start()
    ours.join(5)
    plain.join(5)
    assert seen == {"ours": "req-thread", "plain": None}  # a plain thread starts empty
    ids = {r["message"]: r["correlation_id"] for r in problems(log)}
    assert ids == {"working on ours": "req-thread", "working on plain": None}


def test_thread_failure_is_logged_once_and_kept(
    log: JsonLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)

    def fail() -> None:
        raise Boom("in thread")

    with as_request("req-fail"):
        thread = ContextThread(fail, name="failing-thread")
    thread.start()  # started later and elsewhere: still the creator's id
    thread.join(5)
    assert isinstance(thread.exception, Boom)
    assert hooked == []  # not printed a second time by threading's hook
    lines = problems(log)
    assert [(r["correlation_id"], r["task"]) for r in lines] == [("req-fail", "failing-thread")]


def test_thread_result_and_default_name() -> None:
    def answer() -> int:
        return 42

    thread = start_thread(answer)
    thread.join(5)
    assert thread.result == 42
    assert thread.exception is None
    assert thread.name.endswith("answer")
    assert thread.daemon


def test_run_in_context_for_executors() -> None:
    async def main() -> tuple[str | None, str | None]:
        loop = asyncio.get_running_loop()
        with as_request("req-exec"):
            bound = run_in_context(get_correlation_id)
            unbound = loop.run_in_executor(None, get_correlation_id)
        return await loop.run_in_executor(None, bound), await unbound

    assert asyncio.run(main()) == ("req-exec", None)
