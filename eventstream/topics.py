"""What a project declares of one kind of event stream: where each owner's events go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Topic:
    """One kind of per-owner event stream.

    An owner (a user id) has one channel-layer group and one replay buffer per topic; events
    published for the owner reach its open streams of the topic through both.
    """

    name: str  # for people: "Workspace events", in log lines and errors
    group_prefix: str  # channel-layer group of an owner's events, followed by the owner's id
    replay_prefix: str  # Redis key of an owner's replay buffer, followed by the owner's id
    message_type: str  # the `type` of the channel-layer messages that carry the events

    def group(self, owner: int) -> str:
        """The channel-layer group of `owner`'s events."""
        return f"{self.group_prefix}{owner}"

    def message(self, owner: int, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """The channel-layer message that carries `event` to the owner's streams."""
        return {"type": self.message_type, "owner": owner, "id": event_id, "event": event}
