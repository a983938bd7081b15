"""dataReceived fed in chunks of every size, down to one byte, gives the same conversation.

Twisted's documentation asks protocol tests to call dataReceived "with differing
chunk sizes, down to one byte at a time".  The broker's side is a fixed script of
turns (each the bytes the broker sends after the client's next actions); every
turn is cut into pieces of ``size`` bytes, for every size from one byte to the
longest turn, and what the application observes must never change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from pamqp import commands as pc
from twisted.internet import error

from pika.adapters.twisted_connection import TwistedChannel, TwistedProtocolConnection
from tests.support.scripted_broker import SERVER_PROPERTIES
from tests.unit.twisted.twisted_support import FakeBroker, new_protocol

FRAME_MAX = 8192
BIG = bytes(range(256)) * 33  # 8448 bytes: two body frames at FRAME_MAX
TAG = "ctag-fixed"
E = FakeBroker.encode
C = FakeBroker.encode_content


def _deliver(n: int, body: bytes) -> bytes:
    properties = pc.Basic.Properties(headers={"n": n}, content_type="application/octet-stream")
    return C(1, pc.Basic.Deliver(TAG, n, False, "", "q"), body, properties, FRAME_MAX)


TURNS: list[bytes] = [
    E(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN")),
    E(0, pc.Connection.Tune(channel_max=2047, frame_max=FRAME_MAX, heartbeat=0)),
    E(0, pc.Connection.OpenOk()),
    E(1, pc.Channel.OpenOk()),
    E(1, pc.Confirm.SelectOk(), pc.Basic.ConsumeOk(TAG), pc.Queue.DeclareOk("q", 2, 1))
    + _deliver(1, b"")
    + _deliver(2, b"small")
    + _deliver(3, BIG),
    C(1, pc.Basic.Return(312, "NO_ROUTE", "", "nowhere"), b"lost", None, FRAME_MAX)
    + E(1, pc.Basic.Ack(3, True))
    + C(1, pc.Basic.GetOk(9, True, "", "q", 0), b"got it", None, FRAME_MAX)
    + E(1, pc.Basic.Cancel(TAG)),
    E(1, pc.Channel.Close(404, "NOT_FOUND - no queue 'missing'", 50, 10)),
    E(0, pc.Connection.CloseOk()),
]


class Client:
    """The application: issues commands between broker turns and records what it sees."""

    def __init__(self, protocol: TwistedProtocolConnection) -> None:
        self.protocol = protocol
        self.log: list[Any] = []
        self.channel: TwistedChannel | None = None
        self.queue: Any = None

    def record(self, label: str, convert: Callable[[Any], Any] = lambda v: v) -> Any:
        def ok(value: Any) -> None:
            self.log.append((label, convert(value)))

        def failed(failure: Any) -> None:
            self.log.append((label, "failed", type(failure.value).__name__, str(failure.value)))

        return ok, failed

    def watch(self, deferred: Any, label: str, convert: Callable[[Any], Any] = lambda v: v) -> None:
        deferred.addCallbacks(*self.record(label, convert))

    # -- the steps run before each turn ----------------------------------------

    def before_start(self) -> None:
        self.watch(self.protocol.ready, "ready", lambda p: p is self.protocol)

    def before_channel_open(self) -> None:
        self.watch(self.protocol.channel(), "channel", self._got_channel)

    def _got_channel(self, channel: TwistedChannel) -> int:
        self.channel = channel
        self.watch(channel.on_closed, "on_closed", lambda r: (type(r).__name__, r.args))
        return channel.channel_number

    def before_setup(self) -> None:
        channel = self._chan()
        self.watch(channel.confirm_delivery(), "select", lambda f: f.method.NAME)
        self.watch(channel.basic_consume("q", consumer_tag=TAG), "consume", self._got_queue)
        self.watch(channel.queue_declare("q"), "declare", lambda f: f.method.message_count)

    def _got_queue(self, result: Any) -> str:
        self.queue, tag = result
        for _ in range(4):  # one more get than deliveries: it fails when the broker cancels
            self.watch(self.queue.get(), "message", _message)
        return str(tag)

    def before_publish(self) -> None:
        channel = self._chan()
        channel.add_on_return_callback(lambda m: self.log.append(("returned", _message(m))))
        self.watch(channel.basic_publish("", "q", b"a"), "publish 1", lambda m: m.NAME)
        self.watch(channel.basic_publish("", "q", b"b"), "publish 2", lambda m: m.NAME)
        lost = channel.basic_publish("", "nowhere", b"lost", mandatory=True)
        self.watch(lost, "publish 3", lambda m: m.NAME)
        self.watch(channel.basic_get("q", auto_ack=True), "get", _message)

    def before_channel_error(self) -> None:
        declared = self._chan().queue_declare("missing", passive=True)
        self.watch(declared, "passive declare")

    def before_close(self) -> None:
        self.watch(self.protocol.close(), "closed", lambda r: type(r).__name__)

    def _chan(self) -> TwistedChannel:
        assert self.channel is not None
        return self.channel


def _message(message: Any) -> tuple[Any, ...]:
    properties = message.properties
    return (
        type(message.method).__name__,
        getattr(message.method, "delivery_tag", None),
        properties.headers,
        len(message.body),
        message.body[:8],
    )


def converse(size: int | None) -> list[Any]:
    """Run the whole conversation, each turn fed in ``size``-byte chunks."""
    protocol, _reactor = new_protocol()  # the broker tunes frame_max down to FRAME_MAX
    broker = FakeBroker(protocol, chunk=size)
    client = Client(protocol)
    steps = [
        client.before_start,
        lambda: None,
        lambda: None,
        client.before_channel_open,
        client.before_setup,
        client.before_publish,
        client.before_channel_error,
        client.before_close,
    ]
    broker.connect()
    for step, turn in zip(steps, TURNS, strict=True):
        step()
        broker.feed(turn)
    assert broker.transport.disconnecting
    broker.lose(error.ConnectionDone())
    return client.log


EXPECTED = [
    ("ready", True),
    ("channel", 1),
    ("select", "Confirm.SelectOk"),
    ("consume", TAG),
    ("declare", 2),
    ("message", ("Deliver", 1, {"n": 1}, 0, b"")),
    ("message", ("Deliver", 2, {"n": 2}, 5, b"small")),
    ("message", ("Deliver", 3, {"n": 3}, len(BIG), BIG[:8])),
    ("returned", ("Return", None, None, 4, b"lost")),
    ("publish 1", "Basic.Ack"),
    ("publish 2", "Basic.Ack"),
    ("publish 3", "failed", "UnroutableError", "1 unroutable message(s) returned"),
    ("get", ("GetOk", 9, None, 6, b"got it")),
    ("message", "failed", "ConsumerCancelled", ""),
    (
        "passive declare",
        "failed",
        "ChannelClosedByBroker",
        "(404, \"NOT_FOUND - no queue 'missing'\")",
    ),
    ("on_closed", ("ChannelClosedByBroker", (404, "NOT_FOUND - no queue 'missing'"))),
    ("closed", "ConnectionDone"),
]


def test_whole_turns_give_the_expected_conversation() -> None:
    assert converse(None) == EXPECTED


@pytest.mark.slow
def test_every_chunk_size_down_to_one_byte_gives_the_same_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="pika")  # ~9000 conversations: keep them quiet
    longest = max(len(turn) for turn in TURNS)
    for size in range(1, longest + 1):
        assert converse(size) == EXPECTED, f"chunk size {size}"
