"""The service layer: naming rules, ownership and events published after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db import transaction

from errors.context import reset_correlation_id, set_correlation_id
from errors.exceptions import ConflictException, NotFoundException, ValidationException
from workspaces import services
from workspaces.events import owner_group

pytestmark = pytest.mark.django_db


class Listener:
    """A channel subscribed to one owner's group, as the SSE stream subscribes."""

    def __init__(self, owner_id: int) -> None:
        self.layer = get_channel_layer()
        self.group = owner_group(owner_id)
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(self.group, self.channel)

    def receive(self) -> dict[str, Any]:
        async def receive_one() -> dict[str, Any]:
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout=5)

        message = async_to_sync(receive_one)()
        assert message["type"] == "workspace.event"
        return message["event"]

    def nothing_pending(self) -> bool:
        async def poll() -> bool:
            try:
                await asyncio.wait_for(self.layer.receive(self.channel), timeout=0.3)
            except TimeoutError:
                return True
            return False

        return async_to_sync(poll)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(self.group, self.channel)


@pytest.fixture
def listener(user: User) -> Iterator[Listener]:
    listening = Listener(user.pk)
    yield listening
    listening.close()


@pytest.fixture
def in_request() -> Iterator[None]:
    token = set_correlation_id("svc-test-1")
    yield
    reset_correlation_id(token)


def test_names_are_trimmed_and_blank_is_refused(user: User) -> None:
    workspace = services.workspace_create(owner_id=user.pk, name="  Alpha  ")
    assert workspace.name == "Alpha"
    with pytest.raises(ValidationException) as caught:
        services.workspace_create(owner_id=user.pk, name="   ")
    assert caught.value.field_errors == {"name": ["This field may not be blank."]}


def test_duplicate_name_is_found_before_the_database_is_asked(user: User) -> None:
    services.workspace_create(owner_id=user.pk, name="Alpha")
    with pytest.raises(ConflictException) as caught:
        services.workspace_create(owner_id=user.pk, name="ALPHA")
    assert caught.value.code == "workspace_name_conflict"
    # Found by the early check: no IntegrityError behind it.
    assert caught.value.__cause__ is None


def test_names_that_fold_alike_are_found_before_the_database_is_asked(user: User) -> None:
    services.workspace_create(owner_id=user.pk, name="Émile")
    services.workspace_create(owner_id=user.pk, name="Straße")
    for name in ("émile", "STRASSE", "  strasse  "):
        with pytest.raises(ConflictException) as caught:
            services.workspace_create(owner_id=user.pk, name=name)
        assert caught.value.code == "workspace_name_conflict"
        assert caught.value.__cause__ is None


def test_a_rename_to_its_own_name_folded_differently_skips_the_check(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = services.workspace_create(owner_id=user.pk, name="Straße")
    asked: list[str] = []

    def name_taken(**kwargs: Any) -> bool:
        asked.append(kwargs["name"])
        return False

    monkeypatch.setattr(services.repository, "name_taken", name_taken)
    renamed = services.workspace_update(
        owner_id=user.pk, workspace_id=workspace.id, changes={"name": "STRASSE"}
    )
    assert (renamed.name, asked) == ("STRASSE", [])


def test_another_owners_workspace_is_not_found(user: User, other_user: User) -> None:
    theirs = services.workspace_create(owner_id=other_user.pk, name="Theirs")
    for call in (
        lambda: services.workspace_get(owner_id=user.pk, workspace_id=theirs.id),
        lambda: services.workspace_update(
            owner_id=user.pk, workspace_id=theirs.id, changes={"name": "x"}
        ),
        lambda: services.workspace_delete(owner_id=user.pk, workspace_id=theirs.id),
    ):
        with pytest.raises(NotFoundException):
            call()


def test_events_follow_commits_with_the_correlation_id(
    user: User,
    listener: Listener,
    in_request: None,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        workspace = services.workspace_create(owner_id=user.pk, name="Alpha")
    created = listener.receive()
    assert created["type"] == "workspace.created"
    assert created["workspace"]["id"] == str(workspace.id)
    assert created["workspace"]["name"] == "Alpha"
    assert created["correlation_id"] == "svc-test-1"

    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_update(
            owner_id=user.pk, workspace_id=workspace.id, changes={"description": "new"}
        )
    updated = listener.receive()
    assert (updated["type"], updated["workspace"]["description"]) == ("workspace.updated", "new")

    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_delete(owner_id=user.pk, workspace_id=workspace.id)
    deleted = listener.receive()
    assert (deleted["type"], deleted["workspace"]["id"]) == ("workspace.deleted", str(workspace.id))


def test_no_event_for_a_write_that_is_rolled_back(
    user: User, listener: Listener, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.workspace_create(owner_id=user.pk, name="Doomed")
                raise RuntimeError("the rest of the request failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert listener.nothing_pending()
