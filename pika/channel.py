"""The callback-style AMQP channel (pika's ``pika.channel.Channel``).

A thin face over ``pika._engine.channel.ChannelMachine``: each method checks
its arguments, hands the engine a command with the user's callback as the
opaque token, and asks the connection to write.  Engine events for this
channel come back through ``_on_event`` and become the callbacks of pika's
API, in the order pika documents.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pika import amqp_object, exceptions, frame, spec, validators
from pika._callback_list import CallbackList
from pika._engine import events as ev
from pika._engine.channel import ChannelMachine
from pika._engine.states import ChannelState
from pika._legacy import bind_consume, modern_signature
from pika.exchange_type import ExchangeType

if TYPE_CHECKING:
    from pika.connection import Connection

__all__ = ["MAX_CHANNELS", "Channel", "ContentFrameAssembler"]

LOGGER = logging.getLogger(__name__)

MAX_CHANNELS = 65535

Callback = Callable[..., Any]


class Channel:
    """An AMQP channel on a callback-style connection."""

    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3

    def __init__(
        self,
        connection: Connection,
        channel_number: int,
        on_open_callback: Callback | None = None,
    ) -> None:
        if not isinstance(channel_number, int) or isinstance(channel_number, bool):
            raise exceptions.InvalidChannelNumber(channel_number)
        if on_open_callback is not None and not callable(on_open_callback):
            raise TypeError(f"on_open_callback must be callable, got {on_open_callback!r}")
        self.connection = connection
        self.channel_number = channel_number
        self.callbacks = connection.callbacks
        self._on_open_callback = on_open_callback
        self._machine: ChannelMachine | None = None
        self._on_close = CallbackList("channel close")
        self._on_cancel = CallbackList("consumer cancel")
        self._on_flow = CallbackList("flow")
        self._on_return = CallbackList("return")
        self._ack_nack_callback: Callback | None = None
        # Faces that settle each publish themselves (Twisted) get the engine's event here.
        self._confirm_listener: Callable[[ev.PublishConfirmed], None] | None = None
        self._outcome_listener: Callable[[exceptions.PublishOutcomeUnknownError], None] | None = (
            None
        )
        self._replies: dict[type, list[list[Any]]] = {}
        # Automatic recovery: the channel is suspended or being restored.
        self._recovering = False
        self._internal = False  # recovery's own channel, never restored
        self._reopen_waiter: Callable[[], None] | None = None
        self._interrupted: list[Any] = []  # calls to ask again once recovered
        self._interrupted_consumers: dict[str, Any] = {}
        self._on_outcome_unknown = CallbackList("publish outcome unknown")
        # Wrapper faces (blocking, thread-safe, Twisted) hear about suspension and resumption.
        self._recovery_listener: Callable[[BaseException | None], None] | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.ChannelOpened: self._on_opened,
            ev.ChannelClosed: self._on_closed,
            ev.RpcReplied: self._on_rpc_replied,
            ev.MessageGot: self._on_message_got,
            ev.MessageReturned: self._on_returned,
            ev.PublishConfirmed: self._on_confirmed,
            ev.ConsumerCancelled: self._on_consumer_cancelled,
            ev.FlowChanged: self._on_flow_changed,
            ev.PublishOutcomeUnknown: self._on_publish_outcome_unknown,
        }

    # -- state ------------------------------------------------------------

    def _state(self) -> ChannelState:
        if self._recovering:
            return ChannelState.OPENING  # being re-opened by automatic recovery
        machine = self._machine
        return ChannelState.CLOSED if machine is None else machine.state

    @property
    def is_closed(self) -> bool:
        """True when the channel is closed."""
        return self._state() is ChannelState.CLOSED

    @property
    def is_closing(self) -> bool:
        """True while a client-initiated close is in progress."""
        return self._state() is ChannelState.CLOSING

    @property
    def is_open(self) -> bool:
        """True when the channel is open."""
        return self._state() is ChannelState.OPEN

    @property
    def is_opening(self) -> bool:
        """True between Channel.Open and OpenOk."""
        return self._state() is ChannelState.OPENING

    @property
    def consumer_tags(self) -> list[str]:
        """Tags of the active consumers (those to be restored, during recovery)."""
        if self._recovering:
            return self._recorded_consumer_tags()
        return [] if self._machine is None else self._machine.consumers.tags()

    @property
    def flow_active(self) -> bool:
        """False after the broker paused this channel with Channel.Flow."""
        return True if self._machine is None else self._machine.flow_active

    def __int__(self) -> int:
        return self.channel_number

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} number={self.channel_number} {self._state().name} conn={self.connection!r}>"

    # -- callback registration ------------------------------------------

    def add_callback(
        self, callback: Callback, replies: Sequence[Any], one_shot: bool = True
    ) -> None:
        """``callback(frame)`` when one of the ``replies`` method classes arrives."""
        validators.require_callback(callback)
        for reply in replies:
            key = reply if isinstance(reply, type) else type(reply)
            self._replies.setdefault(key, []).append([callback, one_shot])

    def remove_callback(self, callback: Callback, replies: Sequence[Any] | None = None) -> bool:
        """Forget ``callback`` for ``replies`` (all replies when None); True if found."""
        removed = False
        keys = (
            list(self._replies)
            if replies is None
            else [r if isinstance(r, type) else type(r) for r in replies]
        )
        for key in keys:
            entries = self._replies.get(key, [])
            kept = [entry for entry in entries if entry[0] != callback]
            removed = removed or len(kept) != len(entries)
            self._replies[key] = kept
        return removed

    def add_on_cancel_callback(self, callback: Callback) -> None:
        """``callback(frame)`` when the broker cancels a consumer (Basic.Cancel)."""
        validators.require_callback(callback)
        self._on_cancel.add(callback)

    def add_on_close_callback(self, callback: Callback) -> None:
        """``callback(channel, reason_exception)`` when the channel closes."""
        validators.require_callback(callback)
        self._on_close.add(callback)

    def add_on_flow_callback(self, callback: Callback) -> None:
        """``callback(frame)`` when the broker sends Channel.Flow."""
        validators.require_callback(callback)
        self._on_flow.add(callback)

    def add_on_return_callback(self, callback: Callback) -> None:
        """``callback(channel, method, properties, body)`` for each Basic.Return."""
        validators.require_callback(callback)
        self._on_return.add(callback)

    def add_on_publish_outcome_unknown_callback(self, callback: Callback) -> None:
        """Recovery: ``callback(channel, error)`` for confirmed publishes unsettled at a drop.

        ``error`` is a ``PublishOutcomeUnknownError`` naming the publish sequence
        numbers (``first_tag``..``last_tag``) the broker may or may not have.
        """
        validators.require_callback(callback)
        self._on_outcome_unknown.add(callback)

    def remove_on_publish_outcome_unknown_callback(self, callback: Callback) -> bool:
        """Forget an outcome-unknown callback; True if it was registered."""
        return self._on_outcome_unknown.remove(callback)

    def remove_on_cancel_callback(self, callback: Callback) -> bool:
        """Forget a cancel callback; True if it was registered."""
        return self._on_cancel.remove(callback)

    def remove_on_close_callback(self, callback: Callback) -> bool:
        """Forget a close callback; True if it was registered."""
        return self._on_close.remove(callback)

    def remove_on_flow_callback(self, callback: Callback) -> bool:
        """Forget a flow callback; True if it was registered."""
        return self._on_flow.remove(callback)

    def remove_on_return_callback(self, callback: Callback) -> bool:
        """Forget a return callback; True if it was registered."""
        return self._on_return.remove(callback)

    # -- lifecycle --------------------------------------------------------

    def open(self) -> None:
        """Send Channel.Open (Connection.channel() calls this)."""
        self._machine = self.connection._engine.open_channel(self.channel_number)
        self.connection._channels[self.channel_number] = self
        self.connection._flush()

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancel consumers and close the channel; close callbacks get ChannelClosedByClient."""
        machine = self._machine
        if machine is None:
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        if self._recovering:
            self._close_while_recovering(reply_code, reply_text)
            return
        LOGGER.info("Closing channel (%s): %r on %s", reply_code, reply_text, self)
        machine.close(reply_code, reply_text)
        self.connection._flush()

    # -- asynchronous methods --------------------------------------------

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge one delivery, or all up to ``delivery_tag`` with ``multiple``."""
        self._settle(spec.Basic.Ack(delivery_tag=delivery_tag, multiple=multiple))

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or more deliveries (RabbitMQ extension)."""
        self._settle(spec.Basic.Nack(delivery_tag=delivery_tag, multiple=multiple, requeue=requeue))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery."""
        if not isinstance(delivery_tag, int) or isinstance(delivery_tag, bool):
            raise TypeError(f"delivery_tag must be an integer, got {delivery_tag!r}")
        self._settle(spec.Basic.Reject(delivery_tag=delivery_tag, requeue=requeue))

    def _settle(self, method: spec.Basic.Ack | spec.Basic.Nack | spec.Basic.Reject) -> None:
        if self._recovering:
            # The broker requeued the delivery when the connection dropped.
            LOGGER.warning(
                "Dropping %s for delivery tag %d on channel %d: the connection is recovering "
                "and the broker has requeued the message",
                method.NAME,
                method.delivery_tag,
                self.channel_number,
            )
            return
        self._open_machine().send(method)
        self.connection._flush()

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        """Publish a message; returns before it is written (see add_on_return_callback)."""
        self._publish(exchange, routing_key, body, properties, mandatory)

    def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> int:
        """basic_publish for faces: returns the confirm tag (0 outside confirm mode)."""
        machine = self._machine
        if machine is None:
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        if self._recovering:
            raise self._recovering_error("basic_publish")
        tag = machine.publish(exchange, routing_key, body, properties, mandatory)
        self.connection._flush()
        return tag

    # -- consumers and get ----------------------------------------------

    def basic_consume(self, *args: Any, **kwargs: Any) -> str:
        """Start a consumer; returns its tag at once.

        ``basic_consume(queue, on_message_callback, auto_ack=False, exclusive=False,
        consumer_tag=None, arguments=None, callback=None)``; the pika 0.x form
        ``basic_consume(on_message_callback, queue=..., no_ack=...)`` is accepted too.
        ``on_message_callback(channel, method, properties, body)`` runs per delivery and
        ``callback(frame)`` once ConsumeOk arrives.
        """
        bound = bind_consume(args, kwargs)
        validators.require_string(bound.queue, "queue")
        validators.require_callback(bound.on_message_callback)
        if bound.callback is not None:
            validators.require_callback(bound.callback)
        tag = self._open_machine().consume(
            bound.queue,
            bound.consumer_tag,
            bound.auto_ack,
            bound.exclusive,
            bound.arguments,
            bound.on_message_callback,
            bound.callback,
        )
        self.connection._flush()
        return tag

    basic_consume.__signature__ = modern_signature()  # type: ignore[attr-defined]

    def basic_cancel(self, consumer_tag: str = "", callback: Callback | None = None) -> None:
        """Cancel a consumer; ``callback(frame)`` on CancelOk (None sends nowait)."""
        validators.require_string(consumer_tag, "consumer_tag")
        nowait = validators.rpc_completion_callback(callback)
        if self._open_machine().cancel(consumer_tag, callback, nowait):
            self.connection._flush()

    def basic_get(self, queue: str, callback: Callback, auto_ack: bool = False) -> None:
        """Fetch one message: ``callback(channel, method, properties, body)``.

        An empty queue does not call ``callback``; register for Basic.GetEmpty with
        ``add_callback`` to hear about it.
        """
        validators.require_string(queue, "queue")
        validators.require_callback(callback)
        self._open_machine().get(queue, auto_ack, callback)
        self.connection._flush()

    # -- synchronous methods ----------------------------------------------

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        global_qos: bool = False,
        callback: Callback | None = None,
    ) -> None:
        """Set the prefetch window; ``callback(frame)`` on QosOk."""
        validators.zero_or_greater("prefetch_size", prefetch_size)
        validators.zero_or_greater("prefetch_count", prefetch_count)
        method = spec.Basic.Qos(
            prefetch_size=prefetch_size, prefetch_count=prefetch_count, global_qos=global_qos
        )
        self._rpc(method, callback, nowait_allowed=False)

    def basic_recover(self, requeue: bool = False, callback: Callback | None = None) -> None:
        """Ask the broker to redeliver unacknowledged messages."""
        self._rpc(spec.Basic.Recover(requeue=requeue), callback, nowait_allowed=False)

    def confirm_delivery(
        self, ack_nack_callback: Callback, callback: Callback | None = None
    ) -> None:
        """Enter publisher-confirm mode: ``ack_nack_callback(frame)`` per Ack/Nack."""
        validators.require_callback(ack_nack_callback, "ack_nack_callback")
        machine = self._open_machine()
        if not (self.connection.publisher_confirms and self.connection.basic_nack):
            raise exceptions.MethodNotImplemented("Confirm.Select not Supported by Server")
        self._ack_nack_callback = ack_nack_callback
        nowait = validators.rpc_completion_callback(callback)
        machine.call(spec.Confirm.Select(), callback, nowait)
        self.connection._flush()

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        validators.require_string(destination, "destination")
        validators.require_string(source, "source")
        method = spec.Exchange.Bind(
            destination=destination, source=source, routing_key=routing_key, arguments=arguments
        )
        self._rpc(method, callback)

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: ExchangeType | str = ExchangeType.direct,
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Declare (or with ``passive`` check) an exchange."""
        validators.require_string(exchange, "exchange")
        if isinstance(exchange_type, enum.Enum):
            exchange_type = exchange_type.value
        method = spec.Exchange.Declare(
            exchange=exchange,
            type=exchange_type,
            passive=passive,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=arguments,
        )
        self._rpc(method, callback)

    def exchange_delete(
        self, exchange: str | None = None, if_unused: bool = False, callback: Callback | None = None
    ) -> None:
        """Delete an exchange."""
        method = spec.Exchange.Delete(exchange=exchange or "", if_unused=if_unused)
        self._rpc(method, callback)

    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        method = spec.Exchange.Unbind(
            destination=destination or "",
            source=source or "",
            routing_key=routing_key,
            arguments=arguments,
        )
        self._rpc(method, callback)

    def flow(self, active: bool, callback: Callback | None = None) -> None:
        """Ask the broker to pause or resume deliveries; ``callback(active: bool)``."""
        token = None if callback is None else _FlowReply(callback)
        self._rpc(spec.Channel.Flow(active=active), token, nowait_allowed=False)

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Bind a queue to an exchange (routing key defaults to the queue name)."""
        validators.require_string(queue, "queue")
        validators.require_string(exchange, "exchange")
        method = spec.Queue.Bind(
            queue=queue,
            exchange=exchange,
            routing_key=queue if routing_key is None else routing_key,
            arguments=arguments,
        )
        self._rpc(method, callback)

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Declare a queue (``''`` lets the broker name it); ``callback(frame)`` on DeclareOk."""
        validators.require_string(queue, "queue")
        method = spec.Queue.Declare(
            queue=queue,
            passive=passive,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
        )
        self._rpc(method, callback)

    def queue_delete(
        self,
        queue: str,
        if_unused: bool = False,
        if_empty: bool = False,
        callback: Callback | None = None,
    ) -> None:
        """Delete a queue."""
        validators.require_string(queue, "queue")
        method = spec.Queue.Delete(queue=queue, if_unused=if_unused, if_empty=if_empty)
        self._rpc(method, callback)

    def queue_purge(self, queue: str, callback: Callback | None = None) -> None:
        """Remove every ready message from a queue."""
        validators.require_string(queue, "queue")
        self._rpc(spec.Queue.Purge(queue=queue), callback)

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> None:
        """Remove a queue binding (routing key defaults to the queue name)."""
        validators.require_string(queue, "queue")
        method = spec.Queue.Unbind(
            queue=queue,
            exchange=exchange or "",
            routing_key=queue if routing_key is None else routing_key,
            arguments=arguments,
        )
        self._rpc(method, callback, nowait_allowed=False)

    def tx_select(self, callback: Callback | None = None) -> None:
        """Put the channel in transaction mode."""
        self._rpc(spec.Tx.Select(), callback, nowait_allowed=False)

    def tx_commit(self, callback: Callback | None = None) -> None:
        """Commit the current transaction."""
        self._rpc(spec.Tx.Commit(), callback, nowait_allowed=False)

    def tx_rollback(self, callback: Callback | None = None) -> None:
        """Abandon the current transaction."""
        self._rpc(spec.Tx.Rollback(), callback, nowait_allowed=False)

    # -- internals --------------------------------------------------------

    def _next_publish_tag(self) -> int | None:
        """The confirm tag the next publish will get; None outside confirm mode."""
        machine = self._machine
        if machine is None or not machine.confirms.enabled:
            return None
        return machine.confirms.next_tag

    def _open_machine(self) -> ChannelMachine:
        machine = self._machine
        if machine is None:
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        if self._recovering:
            raise self._recovering_error("this call")
        if machine.state is not ChannelState.OPEN:
            machine.require_open()
        return machine

    def _rpc(
        self, method: amqp_object.Method, callback: object, nowait_allowed: bool = True
    ) -> None:
        """Send a synchronous method; with ``nowait_allowed``, no callback means nowait."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        machine = self._open_machine()
        machine.call(method, callback, nowait_allowed and callback is None)
        self.connection._flush()

    def _on_event(self, event: Any) -> None:
        self._handlers[type(event)](event)

    def _on_opened(self, event: ev.ChannelOpened) -> None:
        LOGGER.debug("Channel %d opened", self.channel_number)
        if self._recovering:
            waiter, self._reopen_waiter = self._reopen_waiter, None
            if waiter is not None:
                waiter()
            return
        if self._on_open_callback is not None:
            self._on_open_callback(self)

    def _on_closed(self, event: ev.ChannelClosed) -> None:
        recovery = self.connection._recovery
        if self._recovering and recovery is not None and recovery.replay is not None:
            self.connection._engine.release_channel(self.channel_number)
            recovery.replay.channel_closed(self, event.error)
            return
        self._recovering = False
        try:
            self._on_close.run(self, event.error)
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        connection = self.connection
        if connection._channels.get(self.channel_number) is self:
            del connection._channels[self.channel_number]
            if connection._engine.channels.get(self.channel_number) is self._machine:
                connection._engine.release_channel(self.channel_number)
        self._replies.clear()

    def _on_rpc_replied(self, event: ev.RpcReplied) -> None:
        method_frame = event.frame
        if event.token is not None and type(method_frame.method) is not spec.Basic.GetEmpty:
            event.token(method_frame)  # type: ignore[operator]
        if self._replies:
            self._run_replies(method_frame)

    def _run_replies(self, method_frame: frame.Method[Any]) -> None:
        entries = self._replies.get(type(method_frame.method))
        if not entries:
            return
        self._replies[type(method_frame.method)] = [e for e in entries if not e[1]]
        for callback, _one_shot in entries:
            callback(method_frame)

    def _on_message_got(self, event: ev.MessageGot) -> None:
        event.token(self, event.method, event.properties, event.body)  # type: ignore[operator]

    def _on_returned(self, event: ev.MessageReturned) -> None:
        if not self._on_return:
            LOGGER.warning(
                "Basic.Return dropped (no return callback on channel %d): %r",
                self.channel_number,
                event.method,
            )
            return
        self._on_return.run(self, event.method, event.properties, event.body)

    def _on_confirmed(self, event: ev.PublishConfirmed) -> None:
        if self._ack_nack_callback is not None:
            self._ack_nack_callback(event.frame)
        if self._confirm_listener is not None:
            self._confirm_listener(event)
        if self._replies:
            self._run_replies(event.frame)

    def _on_consumer_cancelled(self, event: ev.ConsumerCancelled) -> None:
        self._on_cancel.run(event.frame)
        if self._replies:
            self._run_replies(event.frame)

    def _on_flow_changed(self, event: ev.FlowChanged) -> None:
        self._on_flow.run(event.frame)

    # -- automatic recovery (driven by pika._connection_recovery) -----------

    def _recovering_error(self, what: str) -> exceptions.ConnectionRecoveringError:
        return exceptions.ConnectionRecoveringError(
            f"{what} refused on channel {self.channel_number}: the connection is recovering"
        )

    def _recorded_consumer_tags(self) -> list[str]:
        recovery = self.connection._recovery
        settings = None if recovery is None else recovery.ledger.channels.get(self.channel_number)
        return [] if settings is None else list(settings.consumers)

    def _on_publish_outcome_unknown(self, event: ev.PublishOutcomeUnknown) -> None:
        error = exceptions.PublishOutcomeUnknownError(
            self.channel_number, event.first_tag, event.last_tag
        )
        LOGGER.warning("%s", error)
        self._on_outcome_unknown.run(self, error)
        if self._outcome_listener is not None:
            self._outcome_listener(error)

    def _suspend(self, error: BaseException) -> None:
        """The connection was lost: keep this object for the recovered connection."""
        if not self._recovering and self._machine is not None:
            # The application's calls left unanswered (not a failed attempt's replay).
            self._interrupted = self._machine.interrupted
            self._interrupted_consumers = self._machine.interrupted_consumers
        self._recovering = True
        self._reopen_waiter = None
        if self._recovery_listener is not None:
            self._recovery_listener(error)

    def _reopen(self, waiter: Callable[[], None]) -> None:
        """Open this channel's number on the new connection; ``waiter()`` on OpenOk."""
        previous = self._machine
        assert previous is not None
        engine = self.connection._engine
        engine.release_channel(self.channel_number)
        self._reopen_waiter = waiter
        self._machine = engine.reopen_channel(previous)
        self.connection._channels[self.channel_number] = self
        self.connection._flush()

    def _resume(self) -> None:
        """Recovery finished: the channel is usable again."""
        self._recovering = False
        interrupted, self._interrupted = self._interrupted, []
        consumers, self._interrupted_consumers = self._interrupted_consumers, {}
        if self._recovery_listener is not None:
            # A wrapping face already failed its interrupted waits; it does not retry.
            self._recovery_listener(None)
        elif interrupted and self._machine is not None:
            self.connection._dispatch(self._machine.retry_interrupted(interrupted, consumers))

    def _deferred_consumers(self) -> set[str]:
        """Tags of consumes this channel will send again itself after the replay."""
        if self._recovery_listener is not None:
            return set()
        return set(self._interrupted_consumers)

    def _close_suspended(self, error: BaseException) -> None:
        """Recovery ended without this channel: report it closed."""
        self._recovering = False
        self._interrupted = []
        self._interrupted_consumers = {}
        try:
            self._on_close.run(self, error)
        finally:
            self._cleanup()

    def _not_restored(self, consumer_tag: str) -> None:
        """A face told the application this consume failed: recovery must not restore it.

        (Consumers count from the request on, so an unanswered one is restored unless a
        face that reports the failure says otherwise.)
        """
        recovery = self.connection._recovery
        if recovery is not None:
            recovery.ledger.forget_consumer(self.channel_number, consumer_tag)

    def _close_while_recovering(self, reply_code: int, reply_text: str) -> None:
        machine = self._machine
        if machine is not None and machine.state is not ChannelState.CLOSED:
            raise self._recovering_error("close")  # being re-opened right now
        recovery = self.connection._recovery
        if recovery is not None:
            recovery.ledger.forget_channel(self.channel_number)
        self._close_suspended(exceptions.ChannelClosedByClient(reply_code, reply_text))


class _FlowReply:
    """Adapts FlowOk to pika's ``callback(active: bool)``."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Callback) -> None:
        self._callback = callback

    def __call__(self, method_frame: frame.Method[Any]) -> None:
        self._callback(bool(method_frame.method.active))


class ContentFrameAssembler:
    """Reassembles a message from method, header and body frames (pika's helper)."""

    def __init__(self) -> None:
        from pika._engine.assembler import ContentAssembler

        self._assembler = ContentAssembler()
        self._method_frame: frame.Method[Any] | None = None
        self._header_frame: frame.Header | None = None

    def process(
        self, frame_value: frame.Frame
    ) -> tuple[frame.Method[Any], frame.Header, bytes] | None:
        """Feed one frame; returns (method frame, header frame, body) when complete."""
        done: Any = None
        if isinstance(frame_value, frame.Method):
            self._method_frame = frame_value
            self._assembler.start(frame_value.method)
        elif isinstance(frame_value, frame.Header):
            self._header_frame = frame_value
            done = self._assembler.header(frame_value.body_size, frame_value.properties)  # type: ignore[arg-type]
        elif isinstance(frame_value, frame.Body):
            done = self._assembler.body(frame_value.fragment)
        if done is None or self._method_frame is None or self._header_frame is None:
            return None
        return self._method_frame, self._header_frame, done[2]
