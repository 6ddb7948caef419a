"""Flow control: under daphne a stream is its response's Twisted push producer."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel, Request

from eventstream import flow


class Producer:
    """A push producer that remembers what the HTTP channel told it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:  # noqa: N802
        self.calls.append("pause")

    def resumeProducing(self) -> None:  # noqa: N802
        self.calls.append("resume")

    def stopProducing(self) -> None:  # noqa: N802
        self.calls.append("stop")


def twisted_request() -> Request:
    channel = HTTPChannel()
    channel.makeConnection(StringTransport())
    return Request(channel)


async def handle_reply(request: Any, message: dict[str, Any]) -> None:
    """Stands for daphne's Server.handle_reply."""


def attached_behind(send: Any, producer: Producer, *, middleware: bool = True) -> list[Any]:
    """What `attach(producer)` returns inside an application served with `send`."""
    handles: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        handles.append(flow.attach(producer))

    application = flow.FlowControlMiddleware(app) if middleware else app
    asyncio.run(application({"type": "http"}, None, send))
    return handles


def test_under_daphne_the_producer_is_paused_and_resumed_with_the_socket() -> None:
    request = twisted_request()
    producer = Producer()
    (handle,) = attached_behind(functools.partial(handle_reply, request), producer)
    assert handle is request
    request.channel.pauseProducing()  # the socket's buffer is full
    request.channel.resumeProducing()  # it drained
    assert producer.calls == ["pause", "resume"]
    flow.detach(handle)
    request.channel.pauseProducing()
    assert producer.calls == ["pause", "resume"]  # forgotten


def test_a_channel_that_has_a_producer_already_gets_none() -> None:
    request = twisted_request()
    request.registerProducer(Producer(), True)
    send = functools.partial(handle_reply, request)
    assert attached_behind(send, Producer()) == [None]


def test_without_daphne_or_without_the_middleware_there_is_no_flow_control() -> None:
    async def plain_send(message: dict[str, Any]) -> None:
        pass

    assert attached_behind(plain_send, Producer()) == [None]
    request = twisted_request()
    send = functools.partial(handle_reply, request)
    assert attached_behind(send, Producer(), middleware=False) == [None]


def test_detach_of_nothing_or_of_a_gone_channel_is_quiet() -> None:
    flow.detach(None)
    request = twisted_request()
    (handle,) = attached_behind(functools.partial(handle_reply, request), Producer())
    flow.detach(handle)
    flow.detach(handle)  # unregistered already: Twisted raises, detach does not
