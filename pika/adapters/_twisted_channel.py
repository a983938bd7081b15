"""The Deferred face of a channel: ``TwistedChannel``.

Re-exported by ``pika.adapters.twisted_connection`` (import it from there).

Theory of operation: a ``TwistedChannel`` wraps one callback-style
``pika.channel.Channel`` and decides nothing about the protocol.  Every
method that takes a reply callback in ``Channel`` gets an internal callback
that fires a Deferred instead; the Deferreds still waiting are remembered so
that the channel's close callback can errback them with the close reason.
Publisher confirms come from the engine already resolved into tag ranges
(``PublishConfirmed``), so settling a publish's Deferred is a dictionary
lookup per tag.

Automatic recovery: the Channel tells this face when it is suspended (the
connection dropped) and when it is usable again.  Replies to what was pending
will never come, so those Deferreds errback with ConnectionRecoveringError;
publishes awaiting a confirm errback with PublishOutcomeUnknownError.  The
consumer queues stay: the core restores each consumer with the delivery
callback registered here, which keeps feeding the same queue.

pika 0.x/seed call forms keep working: a ``callback=`` argument is called
with what the Deferred fires with (before it fires), and ``basic_consume``
accepts an ``on_message_callback`` in the 1.x Channel or 0.x order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from twisted.internet import defer
from twisted.python.failure import Failure

from pika import exceptions, frame, spec
from pika.adapters._twisted_consume import (
    ClosableDeferredQueue,
    ReceivedMessage,
    bind_twisted_consume,
    twisted_consume_signature,
)
from pika.exchange_type import ExchangeType

if TYPE_CHECKING:
    from pika._engine import events as ev
    from pika.channel import Channel
    from pika.connection import Connection

__all__ = ["TwistedChannel"]

_PUBLIC_MODULE = "pika.adapters.twisted_connection"
LOGGER = logging.getLogger(_PUBLIC_MODULE)

Callback = Callable[..., Any]


class _Consumer(NamedTuple):
    queue_name: str
    messages: ClosableDeferredQueue[Any]


class TwistedChannel:
    """A pika Channel whose methods return Deferreds (see API.md §19.2)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._closed: BaseException | None = None
        self._calls: dict[defer.Deferred[Any], None] = {}  # ordered: errbacks in call order
        self._consumers: dict[str, _Consumer] = {}
        self._unconfirmed: set[str] = set()  # consumer tags still awaiting ConsumeOk
        self._get: tuple[defer.Deferred[Any], Callback | None] | None = None
        self._confirming = False
        self._confirms: dict[int, defer.Deferred[Any]] = {}
        self.on_closed: defer.Deferred[BaseException] = defer.Deferred()
        # Run once when the channel is next restored by recovery (a pending channel()).
        self._on_resumed: Callable[[], None] | None = None
        channel.add_on_close_callback(self._on_channel_closed)
        channel._recovery_listener = self._on_recovery
        channel._outcome_listener = self._on_outcome_unknown
        channel.add_on_cancel_callback(self._on_broker_cancel)
        channel.add_callback(self._on_get_empty, [spec.Basic.GetEmpty], one_shot=False)

    # -- state ------------------------------------------------------------

    @property
    def channel_number(self) -> int:
        """The AMQP channel number."""
        return self._channel.channel_number

    @property
    def connection(self) -> Connection:
        """The underlying pika Connection."""
        return self._channel.connection

    @property
    def is_closed(self) -> bool:
        """True when the channel is closed."""
        return self._channel.is_closed

    @property
    def is_closing(self) -> bool:
        """True while a client-initiated close is in progress."""
        return self._channel.is_closing

    @property
    def is_open(self) -> bool:
        """True when the channel is open."""
        return self._channel.is_open

    @property
    def flow_active(self) -> bool:
        """False while the broker has paused the channel (Channel.Flow)."""
        return self._channel.flow_active

    @property
    def consumer_tags(self) -> list[str]:
        """Tags of the active consumers."""
        return self._channel.consumer_tags

    def __repr__(self) -> str:
        return f"<{type(self).__name__} channel={self._channel!r}>"

    # -- pass-through methods ---------------------------------------------

    def add_on_return_callback(self, callback: Callback) -> None:
        """``callback(ReceivedMessage)`` for each message the broker returns."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")

        def relay(_channel: Any, method: Any, properties: Any, body: bytes) -> None:
            callback(ReceivedMessage(self, method, properties, body))

        self._channel.add_on_return_callback(relay)

    def add_on_publish_outcome_unknown_callback(self, callback: Callback) -> None:
        """``callback(twisted_channel, PublishOutcomeUnknownError)`` after a recovered drop."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")

        def relay(_channel: Any, error: exceptions.PublishOutcomeUnknownError) -> None:
            callback(self, error)

        self._channel.add_on_publish_outcome_unknown_callback(relay)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge one delivery, or all up to ``delivery_tag`` with ``multiple``."""
        self._channel.basic_ack(delivery_tag, multiple)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or more deliveries (RabbitMQ extension)."""
        self._channel.basic_nack(delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery."""
        self._channel.basic_reject(delivery_tag, requeue)

    def callback_deferred(self, deferred: defer.Deferred[Any], replies: list[Any]) -> None:
        """Fire ``deferred`` with the frame of the next reply of one of these classes."""
        self._channel.add_callback(deferred.callback, replies)

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancel the consumers and close the channel (``on_closed`` fires when done)."""
        self._channel.close(reply_code, reply_text)

    def open(self) -> None:
        """Send Channel.Open (TwistedProtocolConnection.channel() does this)."""
        self._channel.open()

    # -- publishing -------------------------------------------------------

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> defer.Deferred[Any]:
        """Publish; in confirm mode the Deferred fires with Basic.Ack or fails.

        Failures are NackError or UnroutableError carrying ReceivedMessages, or
        PublishOutcomeUnknownError if the connection dropped first (recovery);
        a closed or recovering channel gives a failed Deferred, other errors raise.
        """
        if self._closed is not None:
            return defer.fail(self._closed)
        try:
            tag = self._channel._publish(exchange, routing_key, body, properties, mandatory)
        except exceptions.ConnectionRecoveringError:
            return defer.fail()
        if not tag:
            return defer.succeed(None)
        confirmed: defer.Deferred[Any] = defer.Deferred()
        self._confirms[tag] = confirmed
        return confirmed

    def confirm_delivery(
        self, ack_nack_callback: Callback | None = None, callback: Callback | None = None
    ) -> defer.Deferred[Any]:
        """Turn on publisher confirms; fires with the Confirm.SelectOk frame."""
        if self._closed is not None:
            return defer.fail(self._closed)
        if self._confirming:
            LOGGER.warning("confirm_delivery() called twice on %r; ignored", self)
            return defer.succeed(None)
        result = self._rpc(
            self._channel.confirm_delivery, ack_nack_callback or _ignore, callback=callback
        )
        if not (result.called and isinstance(result.result, Failure)):  # not refused at once
            self._confirming = True
            self._channel._confirm_listener = self._on_confirmed
            self._channel.add_on_return_callback(self._on_return_in_confirm_mode)
        return result

    def _on_confirmed(self, event: ev.PublishConfirmed) -> None:
        confirms = self._confirms
        returned = event.returned
        for tag in range(event.first_tag, event.last_tag + 1):
            deferred = confirms.pop(tag, None)
            if deferred is None:
                continue
            messages: list[Any] = []
            if returned is not None and tag == event.last_tag:
                messages.append(
                    ReceivedMessage(self, returned.method, returned.properties, returned.body)
                )
            if not event.acked:
                LOGGER.warning("Publish %d on channel %d was NACKed", tag, self.channel_number)
                deferred.errback(exceptions.NackError(messages))
            elif messages:
                deferred.errback(exceptions.UnroutableError(messages))
            else:
                deferred.callback(event.frame.method)

    def _on_return_in_confirm_mode(self, *_returned: Any) -> None:
        # The return reaches its publish's Deferred as UnroutableError; no warning needed.
        LOGGER.debug("Basic.Return in confirm mode on channel %d", self.channel_number)

    # -- consumers ---------------------------------------------------------

    def basic_consume(self, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        """Consume from a queue; fires with ``(ClosableDeferredQueue, consumer_tag)``.

        ``basic_consume(queue, auto_ack=False, exclusive=False, consumer_tag=None,
        arguments=None)``: messages arrive as ReceivedMessage from the queue's
        get().  Given an ``on_message_callback`` (1.x Channel or 0.x order, ``no_ack``
        accepted), messages go to ``callback(channel, method, properties, body)`` instead.
        """
        if self._closed is not None:
            return defer.fail(self._closed)
        try:
            bound = bind_twisted_consume(args, kwargs)
        except TypeError:
            return defer.fail()
        messages: ClosableDeferredQueue[Any] = ClosableDeferredQueue()
        deferred = self._track()

        def on_consume_ok(method_frame: frame.Method[Any]) -> None:
            self._unconfirmed.discard(method_frame.method.consumer_tag)
            if bound.callback is not None:
                bound.callback(method_frame)
            self._calls.pop(deferred, None)
            deferred.callback((messages, method_frame.method.consumer_tag))

        try:
            tag = self._channel.basic_consume(
                bound.queue,
                self._deliverer(bound.on_message_callback, messages),
                auto_ack=bound.auto_ack,
                exclusive=bound.exclusive,
                consumer_tag=bound.consumer_tag,
                arguments=bound.arguments,
                callback=on_consume_ok,
            )
        except Exception:
            self._calls.pop(deferred, None)
            return defer.fail()
        self._consumers[tag] = _Consumer(bound.queue, messages)
        self._unconfirmed.add(tag)
        return deferred

    basic_consume.__signature__ = twisted_consume_signature()  # type: ignore[attr-defined]

    def _deliverer(
        self, on_message: Callback | None, messages: ClosableDeferredQueue[Any]
    ) -> Callback:
        """The on_message_callback handed to Channel: the user's, or one feeding ``messages``."""
        if on_message is not None:

            def call_user(_channel: Any, method: Any, properties: Any, body: bytes) -> None:
                on_message(self, method, properties, body)

            return call_user

        def enqueue(_channel: Any, method: Any, properties: Any, body: bytes) -> None:
            if messages.closed is None:
                messages.put(ReceivedMessage(self, method, properties, body))
            else:  # closed locally (queue_delete) while the broker still delivers
                LOGGER.debug("Dropping delivery for closed consumer %r", method.consumer_tag)

        return enqueue

    def basic_cancel(
        self, consumer_tag: str = "", callback: Callback | None = None
    ) -> defer.Deferred[Any]:
        """Cancel a consumer; fires with CancelOk and closes its queue (ConsumerCancelled).

        An unknown or already cancelled tag fires with None at once (pika's
        Channel would never answer).
        """
        if self._closed is not None:
            return defer.fail(self._closed)
        channel = self._channel
        if (
            channel.is_open
            and isinstance(consumer_tag, str)
            and consumer_tag not in channel.consumer_tags
        ):
            LOGGER.warning("basic_cancel: consumer %r is not active on %r", consumer_tag, self)
            self._close_consumer(consumer_tag, exceptions.ConsumerCancelled())
            return defer.succeed(None)

        def on_cancel_ok(_frame: Any) -> None:
            self._close_consumer(consumer_tag, exceptions.ConsumerCancelled())

        return self._rpc(
            self._channel.basic_cancel, consumer_tag, callback=callback, then=on_cancel_ok
        )

    def _on_broker_cancel(self, method_frame: frame.Method[Any]) -> None:
        self._close_consumer(method_frame.method.consumer_tag, exceptions.ConsumerCancelled())

    def _close_consumer(self, consumer_tag: str, reason: BaseException) -> None:
        self._unconfirmed.discard(consumer_tag)
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is not None:
            consumer.messages.close(reason)

    # -- basic_get ---------------------------------------------------------

    def basic_get(
        self, queue: str, auto_ack: bool | Callback = False, callback: Callback | None = None
    ) -> defer.Deferred[Any]:
        """Fetch one message: fires with a ReceivedMessage, or None if the queue is empty.

        Raises DuplicateGetOkCallback while a previous basic_get is unanswered.
        The pika 1.x Channel order ``basic_get(queue, callback, auto_ack)`` is accepted.
        """
        if callable(auto_ack):  # pika 1.x Channel order: basic_get(queue, callback, auto_ack)
            callback, auto_ack = auto_ack, False
        if self._closed is not None:
            return defer.fail(self._closed)
        if self._get is not None:
            raise exceptions.DuplicateGetOkCallback()
        deferred = self._track()
        self._get = (deferred, callback)
        try:
            self._channel.basic_get(queue, self._on_get_ok, auto_ack)
        except exceptions.DuplicateGetOkCallback:
            self._forget_get(deferred)
            raise
        except Exception:
            self._forget_get(deferred)
            return defer.fail()
        return deferred

    def _forget_get(self, deferred: defer.Deferred[Any]) -> None:
        self._calls.pop(deferred, None)
        self._get = None

    def _on_get_ok(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        pending, self._get = self._get, None
        if pending is None:
            return
        deferred, callback = pending
        if callback is not None:
            callback(self, method, properties, body)
        self._calls.pop(deferred, None)
        deferred.callback(ReceivedMessage(self, method, properties, body))

    def _on_get_empty(self, _frame: Any) -> None:
        pending, self._get = self._get, None
        if pending is not None:
            self._calls.pop(pending[0], None)
            pending[0].callback(None)

    # -- synchronous methods ------------------------------------------------

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        global_qos: bool = False,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Set the prefetch window; fires with the Basic.QosOk frame."""
        return self._rpc(
            self._channel.basic_qos, prefetch_size, prefetch_count, global_qos, callback=callback
        )

    def basic_recover(
        self, requeue: bool = False, callback: Callback | None = None
    ) -> defer.Deferred[Any]:
        """Ask for redelivery of unacknowledged messages; fires with Basic.RecoverOk."""
        return self._rpc(self._channel.basic_recover, requeue, callback=callback)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Bind an exchange to another; fires with Exchange.BindOk."""
        return self._rpc(
            self._channel.exchange_bind,
            destination,
            source,
            routing_key,
            arguments,
            callback=callback,
        )

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
    ) -> defer.Deferred[Any]:
        """Declare an exchange; fires with Exchange.DeclareOk."""
        return self._rpc(
            self._channel.exchange_declare,
            exchange,
            exchange_type,
            passive,
            durable,
            auto_delete,
            internal,
            arguments,
            callback=callback,
        )

    def exchange_delete(
        self,
        exchange: str | None = None,
        if_unused: bool = False,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Delete an exchange; fires with Exchange.DeleteOk."""
        return self._rpc(self._channel.exchange_delete, exchange, if_unused, callback=callback)

    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Remove an exchange-to-exchange binding; fires with Exchange.UnbindOk."""
        return self._rpc(
            self._channel.exchange_unbind,
            destination,
            source,
            routing_key,
            arguments,
            callback=callback,
        )

    def flow(self, active: bool = True, callback: Callback | None = None) -> defer.Deferred[Any]:
        """Pause or resume deliveries; fires with the flow state (a bool)."""
        return self._rpc(self._channel.flow, active, callback=callback)

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Bind a queue to an exchange; fires with Queue.BindOk."""
        return self._rpc(
            self._channel.queue_bind, queue, exchange, routing_key, arguments, callback=callback
        )

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Declare a queue (``''`` lets the broker name it); fires with Queue.DeclareOk."""
        return self._rpc(
            self._channel.queue_declare,
            queue,
            passive,
            durable,
            exclusive,
            auto_delete,
            arguments,
            callback=callback,
        )

    def queue_delete(
        self,
        queue: str,
        if_unused: bool = False,
        if_empty: bool = False,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Delete a queue; fires with Queue.DeleteOk and closes its consumers' queues."""

        def on_deleted(_frame: Any) -> None:
            for tag, consumer in list(self._consumers.items()):
                if consumer.queue_name == queue:
                    reason = exceptions.ConsumerCancelled(f"Queue {queue} was deleted.")
                    self._close_consumer(tag, reason)

        return self._rpc(
            self._channel.queue_delete,
            queue,
            if_unused,
            if_empty,
            callback=callback,
            then=on_deleted,
        )

    def queue_purge(self, queue: str, callback: Callback | None = None) -> defer.Deferred[Any]:
        """Remove the ready messages of a queue; fires with Queue.PurgeOk."""
        return self._rpc(self._channel.queue_purge, queue, callback=callback)

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Remove a queue binding; fires with Queue.UnbindOk."""
        return self._rpc(
            self._channel.queue_unbind, queue, exchange, routing_key, arguments, callback=callback
        )

    def tx_select(self, callback: Callback | None = None) -> defer.Deferred[Any]:
        """Enter transaction mode; fires with Tx.SelectOk."""
        return self._rpc(self._channel.tx_select, callback=callback)

    def tx_commit(self, callback: Callback | None = None) -> defer.Deferred[Any]:
        """Commit the transaction; fires with Tx.CommitOk."""
        return self._rpc(self._channel.tx_commit, callback=callback)

    def tx_rollback(self, callback: Callback | None = None) -> defer.Deferred[Any]:
        """Abandon the transaction; fires with Tx.RollbackOk."""
        return self._rpc(self._channel.tx_rollback, callback=callback)

    # -- internals -----------------------------------------------------------

    def _track(self) -> defer.Deferred[Any]:
        """A new Deferred that the channel's close will errback if still pending."""
        deferred: defer.Deferred[Any] = defer.Deferred()
        self._calls[deferred] = None
        return deferred

    def _rpc(
        self,
        method: Callback,
        *args: Any,
        callback: Callback | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> defer.Deferred[Any]:
        """Call ``method(*args, callback=...)`` and return a Deferred of its reply.

        ``then(result)`` runs first, then the user's legacy ``callback``, then the
        Deferred fires.  Synchronous errors become a failed Deferred.
        """
        if self._closed is not None:
            return defer.fail(self._closed)
        if callback is not None and not callable(callback):
            return defer.fail(TypeError(f"callback must be callable, got {callback!r}"))
        deferred = self._track()

        def on_reply(result: Any) -> None:
            if then is not None:
                then(result)
            if callback is not None:
                callback(result)  # if it raises, the channel's close errbacks ``deferred``
            self._calls.pop(deferred, None)
            deferred.callback(result)

        try:
            method(*args, callback=on_reply)
        except Exception:
            self._calls.pop(deferred, None)
            return defer.fail()
        return deferred

    def _on_recovery(self, error: BaseException | None) -> None:
        """Suspended (``error``: the loss) or restored (None) by automatic recovery."""
        if error is None:
            LOGGER.debug("%r restored", self)
            hook, self._on_resumed = self._on_resumed, None
            if hook is not None:
                hook()
            return
        reason = exceptions.ConnectionRecoveringError(
            f"channel {self.channel_number}: no reply will come, the connection was lost "
            f"({error!r}) and is recovering"
        )
        reason.__cause__ = error
        self._get = None
        calls, self._calls = self._calls, {}
        for deferred in calls:
            deferred.errback(reason)
        unconfirmed, self._unconfirmed = self._unconfirmed, set()
        for tag in unconfirmed:
            # Its Deferred errbacks: the consumer must not come back by itself.
            self._channel._not_restored(tag)
            self._close_consumer(tag, reason)

    def _on_outcome_unknown(self, error: exceptions.PublishOutcomeUnknownError) -> None:
        confirms = self._confirms
        for tag in range(error.first_tag, error.last_tag + 1):
            deferred = confirms.pop(tag, None)
            if deferred is not None:
                deferred.errback(error)

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        """Errback what is pending, close the consumer queues, then fire on_closed."""
        LOGGER.debug("%r closed: %r", self, reason)
        self._closed = reason
        self._get = None
        calls, self._calls = self._calls, {}
        for deferred in calls:
            deferred.errback(reason)
        confirms, self._confirms = self._confirms, {}
        for _tag, deferred in sorted(confirms.items()):
            deferred.errback(reason)
        consumers, self._consumers = self._consumers, {}
        for consumer in consumers.values():
            consumer.messages.close(reason)
        self.on_closed.callback(reason)


TwistedChannel.__module__ = _PUBLIC_MODULE


def _ignore(*_args: Any) -> None:
    """The ack/nack callback when the user gave none (Deferreds carry the outcome)."""
