"""One AMQP channel: its state, RPC queue, consumers, confirms and content.

Theory of operation: commands from the face go through ``_require_open`` and
then either straight to the outbox (publish, ack, nack, reject: they may
overtake queued RPCs, as in pika) or through the FIFO ``RpcQueue`` (every
synchronous method, nowait ones included, so they keep their order).
Inbound frames are first offered to the in-flight RPC; otherwise the method
type selects a handler from ``_UNSOLICITED``.  A method with no handler is a
protocol error (505) that the connection engine turns into Connection.Close.

Closing: the client's Channel.Close queues behind any RPC in flight.  Once it
is on the wire, everything but Close/CloseOk is dropped.  A broker
Channel.Close is answered at once with CloseOk.  Either way the channel ends
in CLOSED with a ``ChannelClosed`` event; its number stays reserved until the
face has run its callbacks and calls ``release_channel``.

Recovery (only after ``enable_recovery``): successful declares, bindings,
QoS, confirm/tx mode and consumers are recorded in the shared
``TopologyLedger``, and a channel re-opened on a new connection
(``resume_from``) keeps delivery and confirm tags monotonic (epochs.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pika import amqp_object, exceptions, frame, spec

from . import events as ev
from .assembler import ContentAssembler
from .broker_initiated import UNSOLICITED, BrokerInitiated
from .confirms import ConfirmTracker
from .consumers import Consumer, ConsumerRegistry
from .epochs import DeliveryTags
from .errors import unexpected
from .ledger import TopologyLedger
from .outbox import Outbox
from .rpc import Call, RpcQueue
from .states import ChannelState

LOGGER = logging.getLogger("pika.channel")

Events = list[ev.Event]

_WRONG_STATE_TEXT = {
    ChannelState.OPENING: "Channel is opening, but is not usable yet.",
    ChannelState.CLOSING: "Channel is closing.",
    ChannelState.CLOSED: "Channel is closed.",
}


def replies_for(
    method: amqp_object.Method, nowait: bool = False
) -> tuple[type[amqp_object.Method], ...]:
    """The reply classes a synchronous method waits for (none with nowait).

    They come from the generated spec (``valid_responses``).
    """
    if nowait and hasattr(method, "nowait"):
        method.nowait = True
        return ()
    return _REPLIES.get(type(method), ())


_REPLIES: dict[type[amqp_object.Method], tuple[type[amqp_object.Method], ...]] = {
    cls: tuple(cls.valid_responses)
    for cls in spec.methods.values()
    if getattr(cls, "valid_responses", None)
}


class ChannelMachine(BrokerInitiated):
    """Protocol state of one channel."""

    def __init__(self, number: int, outbox: Outbox) -> None:
        self.number = number
        self.state = ChannelState.CLOSED
        self.outbox = outbox
        self.rpc = RpcQueue()
        self.consumers = ConsumerRegistry()
        self.confirms = ConfirmTracker()
        self.assembler = ContentAssembler()
        self.close_reason: Exception | None = None
        self.close_sent = False
        self.released = False
        self.flow_active = True
        self._get_pending = False
        self._last_return: ev.MessageReturned | None = None
        # Recovery: both None unless enabled, so the hot paths pay one test.
        self.ledger: TopologyLedger | None = None
        self.tags: DeliveryTags | None = None
        # With recovery: the calls the lost connection never answered, and the
        # consumers of the Basic.Consume calls among them.
        self.interrupted: list[Call] = []
        self.interrupted_consumers: dict[str, Consumer] = {}

    # -- commands -------------------------------------------------------

    @property
    def is_usable(self) -> bool:
        """True while the channel accepts commands."""
        return self.state is ChannelState.OPEN

    def require_open(self) -> None:
        """Raise ChannelWrongStateError unless the channel is OPEN."""
        if self.state is not ChannelState.OPEN:
            raise exceptions.ChannelWrongStateError(_WRONG_STATE_TEXT[self.state])

    def open(self) -> None:
        """Send Channel.Open."""
        self.state = ChannelState.OPENING
        self._submit(Call(spec.Channel.Open(), None, _REPLIES[spec.Channel.Open]))

    def call(self, method: amqp_object.Method, token: object, nowait: bool) -> None:
        """Send a synchronous method through the FIFO."""
        self.require_open()
        self._submit(Call(method, token, replies_for(method, nowait)))

    def send(self, method: amqp_object.Method) -> None:
        """Send an asynchronous method (ack, nack, reject...) right away."""
        self.require_open()
        tags = self.tags
        if tags is not None and type(method) in _TAGGED:
            wire_tag = tags.outbound(method.delivery_tag, method.NAME, self.number)  # type: ignore[attr-defined]
            if wire_tag is None:
                return
            method.delivery_tag = wire_tag  # type: ignore[attr-defined]
        self.outbox.method(self.number, method)

    def give_back(self, method: spec.Basic.Deliver) -> bool:
        """Handle a reported delivery whose consumer was cancelled since; False: deliver it.

        A callback earlier in the same batch of events cancelled the consumer.
        Manual-ack deliveries are rejected with requeue (or left to the broker
        if the channel is closing); an auto-ack one is already settled, so the
        application still gets it rather than lose it.
        """
        consumer = self.consumers.cancelling.get(method.consumer_tag)
        if consumer is not None and consumer.auto_ack:
            return False
        if self.state is ChannelState.OPEN and not self.close_sent:
            self.send(spec.Basic.Reject(delivery_tag=method.delivery_tag, requeue=True))
        return True

    def enable_recovery(self, ledger: TopologyLedger) -> None:
        """Record into ``ledger`` and keep delivery-tag epochs from now on."""
        self.ledger = ledger
        self.tags = DeliveryTags()

    def resume_from(self, previous: ChannelMachine) -> None:
        """Continue ``previous`` (this channel on the lost connection): ledger and tags."""
        self.ledger = previous.ledger
        self.tags = previous.tags.following() if previous.tags is not None else DeliveryTags()
        self.confirms.continue_from(previous.confirms)

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | bytearray | memoryview | str,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> int:
        """Send Basic.Publish; return its confirm tag (0 outside confirm mode)."""
        if self.state is not ChannelState.OPEN:
            self.require_open()
        if type(body) is not bytes:
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.outbox.publish(self.number, exchange, routing_key, body, properties, mandatory)
        return self.confirms.on_publish()

    def consume(
        self,
        queue: str,
        consumer_tag: str | None,
        auto_ack: bool,
        exclusive: bool,
        arguments: dict[str, Any] | None,
        token: object,
        reply_token: object,
    ) -> str:
        """Register a consumer and send Basic.Consume (always waits for ConsumeOk)."""
        self.require_open()
        tag = consumer_tag or ConsumerRegistry.new_tag(self.number)
        self.consumers.add(tag, token, auto_ack)
        method = spec.Basic.Consume(
            queue=queue,
            consumer_tag=tag,
            no_ack=auto_ack,
            exclusive=exclusive,
            arguments=arguments or {},
        )
        if self.ledger is not None:
            # Recorded now, not at ConsumeOk: the application is consuming from this
            # call on, so a drop before the reply must not lose the consumer.
            self.ledger.record(self.number, method, None, token)
        self._submit(Call(method, reply_token, _REPLIES[spec.Basic.Consume]))
        return tag

    def cancel(self, consumer_tag: str, token: object, nowait: bool) -> bool:
        """Cancel a consumer; False (and nothing sent) if it is not active."""
        self.require_open()
        if self.consumers.start_cancel(consumer_tag) is None:
            LOGGER.warning("basic_cancel: consumer tag %r is not active", consumer_tag)
            return False
        if nowait:
            # Deliveries already on the way are still rejected (requeued).
            self.consumers.cancel_unanswered(consumer_tag)
        method = spec.Basic.Cancel(consumer_tag=consumer_tag)
        self._submit(Call(method, token, replies_for(method, nowait)))
        return True

    def get(self, queue: str, auto_ack: bool, token: object) -> None:
        """Send Basic.Get; DuplicateGetOkCallback while one is unanswered."""
        self.require_open()
        if self._get_pending:
            raise exceptions.DuplicateGetOkCallback()
        self._get_pending = True
        method = spec.Basic.Get(queue=queue, no_ack=auto_ack)
        self._submit(Call(method, token, _REPLIES[spec.Basic.Get]))

    def close(self, reply_code: int, reply_text: str) -> None:
        """Start the client-side close: cancel consumers, then Channel.Close."""
        if self.state in (ChannelState.CLOSED, ChannelState.CLOSING):
            raise exceptions.ChannelWrongStateError(_WRONG_STATE_TEXT[self.state])
        was_open = self.state is ChannelState.OPEN
        self.state = ChannelState.CLOSING
        self.close_reason = exceptions.ChannelClosedByClient(reply_code, reply_text)
        if was_open:
            for tag in self.consumers.tags():
                self.consumers.start_cancel(tag)
                self.consumers.finish_cancel(tag)
                cancel = spec.Basic.Cancel(consumer_tag=tag, nowait=True)
                self._submit(Call(cancel, None, ()))
        close = spec.Channel.Close(
            reply_code=reply_code, reply_text=reply_text, class_id=0, method_id=0
        )
        self._submit(Call(close, None, _REPLIES[spec.Channel.Close]))

    # -- inbound --------------------------------------------------------

    def on_method(self, method_frame: frame.Method[Any], events: Events) -> None:
        """Handle a method frame addressed to this channel."""
        if self.state is ChannelState.CLOSED:
            return
        method = method_frame.method
        if self.assembler.busy:
            raise unexpected(f"{method.NAME} while content was expected on channel {self.number}")
        if self.close_sent and not isinstance(method, (spec.Channel.Close, spec.Channel.CloseOk)):
            return
        if spec.has_content(method.INDEX):
            self.assembler.start(method)
            return
        call = self.rpc.match(method)
        if call is not None:
            self._on_reply(call, method_frame, events)
            return
        handler = UNSOLICITED.get(type(method))
        if handler is None:
            raise unexpected(f"{method.NAME} on channel {self.number} in state {self.state.name}")
        handler(self, method_frame, events)

    def on_header(self, header: frame.Header, events: Events) -> None:
        """Handle a content header frame."""
        if self.state is ChannelState.CLOSED:
            return
        done = self.assembler.header(header.body_size, header.properties)  # type: ignore[arg-type]
        if done is not None:
            self.on_content(done[0], done[1], done[2], events)

    def on_body(self, body: frame.Body, events: Events) -> None:
        """Handle a content body frame."""
        if self.state is ChannelState.CLOSED:
            return
        done = self.assembler.body(body.fragment)
        if done is not None:
            self.on_content(done[0], done[1], done[2], events)

    def on_content(
        self,
        method: Any,
        properties: spec.BasicProperties,
        body: bytes,
        events: Events,
    ) -> None:
        """Handle a complete message (Deliver, Return or GetOk)."""
        if self.close_sent or self.state is ChannelState.CLOSED:
            return
        method_type = type(method)
        if method_type is spec.Basic.Deliver:
            consumer = self.consumers.active.get(method.consumer_tag)
            if consumer is not None:
                if self.tags is not None:
                    method.delivery_tag = self.tags.inbound(method.delivery_tag)
                events.append(
                    ev.DeliveryReceived(
                        self.number,
                        consumer.token,
                        method,
                        properties,
                        body,
                        self.consumers.active,
                        self,
                    )
                )
            else:
                self._on_orphan_delivery(method)
        elif method_type is spec.Basic.Return:
            returned = ev.MessageReturned(self.number, method, properties, body)
            if self.confirms.enabled:
                self._last_return = returned
            events.append(returned)
        elif method_type is spec.Basic.GetOk:
            self._on_get_ok(method, properties, body, events)
        else:
            raise unexpected(f"content for {method.NAME} on channel {self.number}")

    def terminate(self, error: Exception, events: Events) -> None:
        """The connection is gone: close without a handshake."""
        if self.state is not ChannelState.CLOSED:
            if self.ledger is not None:
                for first, last in self.confirms.unsettled_ranges():
                    events.append(ev.PublishOutcomeUnknown(self.number, first, last))
                self._keep_interrupted(self.ledger)
            self._finish(error, events)

    def _keep_interrupted(self, ledger: TopologyLedger) -> None:
        """Keep the unanswered calls (and their consumers) for ``retry_interrupted``."""
        self.interrupted = self.rpc.clear()
        active = self.consumers.active
        for call in self.interrupted:
            method: Any = call.method
            if type(method) is spec.Basic.Consume and method.consumer_tag in active:
                self.interrupted_consumers[method.consumer_tag] = active[method.consumer_tag]
            elif type(method) is spec.Basic.Cancel:
                # Asked to stop: the consumer must not come back with the replay.
                ledger.forget_consumer(self.number, method.consumer_tag)

    def retry_interrupted(self, calls: list[Call], consumers: dict[str, Consumer]) -> Events:
        """After recovery, ask again what the lost connection left unanswered.

        Methods with the same effect asked twice as once are sent again, in
        order, and their replies reach the same tokens; so is a Basic.Consume
        (the replay leaves it to this, as it may need a queue declared just
        before it), with its consumer from ``consumers``. A channel that was
        still opening (the replay opened it) gets ChannelOpened. Anything else
        (a purge, a commit) may or may not have happened: it is logged, not
        repeated.
        """
        events: Events = []
        for call in calls:
            method: Any = call.method
            kind = type(method)
            if kind is spec.Channel.Open:
                ok = frame.Method(self.number, spec.Channel.OpenOk())
                events.append(ev.ChannelOpened(self.number, ok))
                continue
            if kind is spec.Basic.Consume:
                consumer = consumers.get(method.consumer_tag)
                if consumer is None or method.consumer_tag in self.consumers.active:
                    continue  # cancelled meanwhile, or restored some other way
                self.consumers.add(consumer.tag, consumer.token, consumer.auto_ack)
                if self.ledger is not None:
                    self.ledger.record(self.number, method, None, consumer.token)
                self._submit(call)
                continue
            if kind not in _ASK_AGAIN:
                LOGGER.warning(
                    "%s on channel %d was unanswered when the connection was lost; it may or "
                    "may not have taken effect, so it is not sent again and its callback "
                    "will not run",
                    method.NAME,
                    self.number,
                )
                continue
            if kind is spec.Basic.Cancel:
                self.consumers.start_cancel(method.consumer_tag)  # replay may have restored it
            elif kind is spec.Basic.Get:
                self._get_pending = True
            self._submit(call)
        return events

    # -- internals ------------------------------------------------------

    def _submit(self, call: Call) -> None:
        for ready in self.rpc.submit(call):
            self._transmit(ready)

    def _release_next(self) -> None:
        for ready in self.rpc.complete():
            self._transmit(ready)

    def _transmit(self, call: Call) -> None:
        method = call.method
        self.outbox.method(self.number, method)
        if self.ledger is not None and not call.replies:
            self.ledger.record(self.number, method, None)
        method_type = type(method)
        if method_type is spec.Confirm.Select:
            self.confirms.enable()
        elif method_type is spec.Channel.Close:
            self.close_sent = True

    def _on_reply(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        method = method_frame.method
        if self.ledger is not None:
            self._record(call.method, method)
        handler = _REPLY_HOOKS.get(type(method))
        if handler is not None:
            handler(self, call, method_frame, events)
        else:
            events.append(ev.RpcReplied(self.number, call.token, method_frame))
        if self.state is not ChannelState.CLOSED:
            self._release_next()

    def _on_open_ok(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        if self.state is ChannelState.OPENING:
            self.state = ChannelState.OPEN
            events.append(ev.ChannelOpened(self.number, method_frame))

    def _on_close_ok(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        reason = self.close_reason or exceptions.ChannelClosedByClient(0, "")
        if self.ledger is not None:
            self.ledger.forget_channel(self.number)
        self._finish(reason, events)

    def _on_cancel_ok(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        self.consumers.finish_cancel(method_frame.method.consumer_tag)
        events.append(ev.RpcReplied(self.number, call.token, method_frame))

    def _on_get_empty(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        self._get_pending = False
        events.append(ev.RpcReplied(self.number, call.token, method_frame))

    def _on_flow_ok(self, call: Call, method_frame: frame.Method[Any], events: Events) -> None:
        self.flow_active = bool(method_frame.method.active)
        events.append(ev.RpcReplied(self.number, call.token, method_frame))

    def _on_get_ok(
        self,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
        events: Events,
    ) -> None:
        call = self.rpc.match(method)
        if call is None:
            raise unexpected(f"Basic.GetOk without Basic.Get on channel {self.number}")
        self._get_pending = False
        if self.tags is not None:
            method.delivery_tag = self.tags.inbound(method.delivery_tag)
        events.append(ev.MessageGot(self.number, call.token, method, properties, body))
        self._release_next()

    # -- recovery -----------------------------------------------------

    def _record(self, sent: amqp_object.Method, reply: amqp_object.Method) -> None:
        token = None
        if type(sent) is spec.Basic.Consume:
            consumer = self.consumers.active.get(str(reply.consumer_tag))  # type: ignore[attr-defined]
            if consumer is None:
                return  # cancelled before ConsumeOk arrived
            token = consumer.token
        self.ledger.record(self.number, sent, reply, token)  # type: ignore[union-attr]

    def _finish(self, reason: Exception, events: Events) -> None:
        self.state = ChannelState.CLOSED
        self.close_reason = reason
        self.rpc.clear()
        self.consumers.clear()
        self.assembler = ContentAssembler()
        self._get_pending = False
        self._last_return = None
        events.append(ev.ChannelClosed(self.number, reason))


_TAGGED = frozenset((spec.Basic.Ack, spec.Basic.Nack, spec.Basic.Reject))

# Asking any of these twice has the effect of asking once (RabbitMQ answers a
# delete of what is gone, or a cancel of an unknown tag, with its -Ok), so
# recovery may send them again when the lost connection never answered.
_ASK_AGAIN: frozenset[type[amqp_object.Method]] = frozenset(
    (
        spec.Exchange.Declare,
        spec.Exchange.Delete,
        spec.Exchange.Bind,
        spec.Exchange.Unbind,
        spec.Queue.Declare,
        spec.Queue.Bind,
        spec.Queue.Unbind,
        spec.Queue.Delete,
        spec.Basic.Qos,
        spec.Basic.Get,
        spec.Basic.Cancel,
        spec.Basic.Recover,
        spec.Confirm.Select,
        spec.Tx.Select,
        spec.Channel.Flow,
    )
)

ReplyHook = Callable[[ChannelMachine, Call, "frame.Method[Any]", Events], None]

_REPLY_HOOKS: dict[type[amqp_object.Method], ReplyHook] = {
    spec.Channel.OpenOk: ChannelMachine._on_open_ok,
    spec.Channel.CloseOk: ChannelMachine._on_close_ok,
    spec.Basic.CancelOk: ChannelMachine._on_cancel_ok,
    spec.Basic.GetEmpty: ChannelMachine._on_get_empty,
    spec.Channel.FlowOk: ChannelMachine._on_flow_ok,
}
