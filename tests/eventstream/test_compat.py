"""The framework internals `eventstream.compat` relies on, as the versions it names have them.

When one of these fails after an upgrade, check compat.py against the new version, change what
no longer holds, and update the version it names.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import partial
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from daphne.http_protocol import WebRequest
from daphne.server import Server
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel

from eventstream import compat


@pytest.mark.parametrize(
    ("distribution", "written_against"),
    [
        ("daphne", compat.DAPHNE_VERSION),
        ("twisted", compat.TWISTED_VERSION),
        ("channels", compat.CHANNELS_VERSION),
    ],
)
def test_the_installed_versions_are_those_compat_was_written_against(
    distribution: str, written_against: str
) -> None:
    assert version(distribution) == written_against


def daphne_web_request() -> WebRequest:
    """daphne's protocol object for one request, on a channel of its own."""
    channel = HTTPChannel()
    channel.factory = SimpleNamespace(server=SimpleNamespace(protocol_connected=lambda _: None))
    channel.makeConnection(StringTransport())
    return WebRequest(channel)


def test_daphne_hands_the_application_a_partial_of_its_request() -> None:
    source = inspect.getsource(Server.create_application)
    assert "send=partial(self.handle_reply, protocol)" in source
    # daphne's protocol object is the Twisted request of the connection.
    request = daphne_web_request()
    server = Server.__new__(Server)
    assert compat.daphne_request(partial(server.handle_reply, request)) is request
    assert compat.daphne_request(partial(server.handle_reply)) is None
    assert compat.daphne_request(server.handle_reply) is None


def test_twisted_keeps_a_channel_s_producer_in_request_producer() -> None:
    request = daphne_web_request()
    assert compat.producer_slot_free(request)

    class Producer:
        def pauseProducing(self) -> None: ...  # noqa: N802
        def resumeProducing(self) -> None: ...  # noqa: N802
        def stopProducing(self) -> None: ...  # noqa: N802

    producer = Producer()
    request.registerProducer(producer, True)
    assert request.channel._requestProducer is producer
    assert not compat.producer_slot_free(request)
    request.unregisterProducer()
    assert compat.producer_slot_free(request)


def test_channels_sweeps_the_in_memory_layer_on_each_group_send_and_compat_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sweeps: list[str] = []
    sweep = lambda self: sweeps.append(type(self).__name__)  # noqa: E731
    monkeypatch.setattr(ChannelsInMemoryChannelLayer, "_clean_expired", sweep)

    async def three_sends(layer: Any) -> None:
        await layer.group_add("g", await layer.new_channel())
        for n in range(3):
            await layer.group_send("g", {"type": "t", "n": n})

    asyncio.run(three_sends(ChannelsInMemoryChannelLayer()))
    assert len(sweeps) == 3  # what the override is for: Channels sweeps on each
    sweeps.clear()
    asyncio.run(three_sends(compat.InMemoryChannelLayer()))
    assert len(sweeps) == 1
