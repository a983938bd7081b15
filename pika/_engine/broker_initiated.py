"""Methods the broker sends on a channel without being asked.

Channel.Close, Channel.Flow, Basic.Ack/Nack (publisher confirms) and
Basic.Cancel (consumer cancel notification), plus deliveries that arrive for
a consumer the client is cancelling.  ``UNSOLICITED`` maps each to its
handler; ``ChannelMachine.on_method`` consults it when a method is not the
reply to the RPC in flight.  A method in neither place is a protocol error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pika import amqp_object, exceptions, frame, spec

from . import events as ev
from .confirms import ConfirmTracker
from .consumers import ConsumerRegistry
from .outbox import Outbox
from .states import ChannelState

if TYPE_CHECKING:
    from .ledger import TopologyLedger

LOGGER = logging.getLogger("pika.channel")

Events = list[ev.Event]


class BrokerInitiated:
    """Handlers for broker-initiated channel methods; mixed into ChannelMachine."""

    number: int
    outbox: Outbox
    confirms: ConfirmTracker
    consumers: ConsumerRegistry
    ledger: TopologyLedger | None
    close_sent: bool
    close_reason: Exception | None
    flow_active: bool
    state: ChannelState
    _last_return: ev.MessageReturned | None

    def _finish(self, reason: Exception, events: Events) -> None:
        raise NotImplementedError  # provided by ChannelMachine

    def _on_orphan_delivery(self, method: spec.Basic.Deliver) -> None:
        consumer = self.consumers.cancelling.get(str(method.consumer_tag))
        if consumer is None:
            if self.state is ChannelState.OPEN:
                LOGGER.error(
                    "Dropping delivery %d for unknown consumer %r on channel %d",
                    method.delivery_tag,
                    method.consumer_tag,
                    self.number,
                )
            return
        if not consumer.auto_ack and self.state is ChannelState.OPEN:
            reject = spec.Basic.Reject(delivery_tag=method.delivery_tag, requeue=True)
            self.outbox.method(self.number, reject)

    def _on_broker_close(self, method_frame: frame.Method[Any], events: Events) -> None:
        method = method_frame.method
        self.outbox.method(self.number, spec.Channel.CloseOk())
        reason = exceptions.ChannelClosedByBroker(method.reply_code, method.reply_text)
        LOGGER.warning("Channel %d closed by broker: %r", self.number, reason)
        if self.close_sent:
            self.close_reason = reason  # our CloseOk is still to come
            return
        if self.ledger is not None:
            self.ledger.forget_channel(self.number)
        self._finish(reason, events)

    def _on_ack(self, method_frame: frame.Method[Any], events: Events) -> None:
        method = method_frame.method
        if self.confirms.tag_offset:
            # The application sees the numbering its publishes got (recovery epochs).
            method.delivery_tag = self.confirms.wire_to_local(method.delivery_tag)
        first, last = self.confirms.settle(method.delivery_tag, method.multiple)
        returned, self._last_return = self._last_return, None
        acked = type(method) is spec.Basic.Ack
        events.append(ev.PublishConfirmed(self.number, method_frame, first, last, acked, returned))

    def _on_broker_cancel(self, method_frame: frame.Method[Any], events: Events) -> None:
        consumer = self.consumers.cancelled_by_broker(method_frame.method.consumer_tag)
        if self.ledger is not None:
            self.ledger.forget_consumer(self.number, method_frame.method.consumer_tag)
        if consumer is not None:
            events.append(ev.ConsumerCancelled(self.number, consumer.token, method_frame))

    def _on_flow(self, method_frame: frame.Method[Any], events: Events) -> None:
        active = bool(method_frame.method.active)
        self.flow_active = active
        self.outbox.method(self.number, spec.Channel.FlowOk(active=active))
        events.append(ev.FlowChanged(self.number, method_frame))


Handler = Callable[[BrokerInitiated, "frame.Method[Any]", Events], None]

UNSOLICITED: dict[type[amqp_object.Method], Handler] = {
    spec.Channel.Close: BrokerInitiated._on_broker_close,
    spec.Basic.Ack: BrokerInitiated._on_ack,
    spec.Basic.Nack: BrokerInitiated._on_ack,
    spec.Basic.Cancel: BrokerInitiated._on_broker_cancel,
    spec.Channel.Flow: BrokerInitiated._on_flow,
}
