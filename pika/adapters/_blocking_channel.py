"""BlockingChannel: the synchronous face over one impl ``pika.channel.Channel``.

Theory of operation: each synchronous method hands the impl channel a
``Reply`` as its completion callback and pumps the connection's loop until
the reply is in or the channel has closed; deliveries, returns and broker
cancellations are queued on the connection and run only by its dispatching
calls.  A Channel.Close from the broker is raised from the call that was
waiting on this channel; if nothing was waiting it is kept "unseen" and
raised by the next call on the channel (or by process_data_events).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NoReturn, overload

from pika import exceptions, frame, spec, validators
from pika._callback_list import CallbackList
from pika._engine import events as ev
from pika._legacy import bind_consume, modern_signature
from pika._message_types import GetResult, Message, NoMessage
from pika.adapters._blocking_rpc import RpcMethods
from pika.adapters._blocking_support import (
    Consumer,
    GeneratorConsumer,
    GetReply,
    Reply,
    ReturnedMessage,
    remove_entries,
)

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingConnection
    from pika.channel import Channel

__all__ = ["BlockingChannel"]

LOGGER = logging.getLogger("pika.adapters.blocking_connection")

MethodFrame = frame.Method[Any]
AnyConsumer = Consumer | GeneratorConsumer


def _ignore_frame(_frame: MethodFrame) -> None:
    """ack_nack_callback for the impl channel: confirms arrive through the event hook."""


class BlockingChannel(RpcMethods):
    """A channel whose methods block until the broker has answered."""

    def __init__(self, channel_impl: Channel, connection: BlockingConnection) -> None:
        self._impl = channel_impl
        self._connection = connection
        self._consumers: dict[str, AnyConsumer] = {}
        self._generator: GeneratorConsumer | None = None
        self._on_cancel = CallbackList("blocking consumer cancel")
        self._on_return = CallbackList("blocking return")
        self._broker_close: exceptions.ChannelClosedByBroker | None = None
        self._confirming = False
        self._awaited_tag = 0
        self._confirmation: ev.PublishConfirmed | None = None
        # Automatic recovery: bumped on each suspension, so waits in progress give up.
        self._suspensions = 0
        self._outcome_unknown: exceptions.PublishOutcomeUnknownError | None = None
        channel_impl._recovery_listener = self._on_impl_recovery
        channel_impl._outcome_listener = self._on_impl_outcome_unknown
        channel_impl.add_on_close_callback(self._on_impl_closed)
        channel_impl.add_on_return_callback(self._on_impl_returned)
        channel_impl.add_on_cancel_callback(self._on_impl_cancelled)

    # -- properties -------------------------------------------------------

    @property
    def channel_number(self) -> int:
        """The channel number."""
        return self._impl.channel_number

    @property
    def connection(self) -> BlockingConnection:
        """The BlockingConnection this channel belongs to."""
        return self._connection

    @property
    def is_open(self) -> bool:
        """True while the channel is open."""
        return self._impl.is_open

    @property
    def is_closed(self) -> bool:
        """True once the channel is closed."""
        return self._impl.is_closed

    @property
    def consumer_tags(self) -> list[str]:
        """Tags of this channel's consumers (the consume() generator's included)."""
        return list(self._consumers)

    def __int__(self) -> int:
        return self._impl.channel_number

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} impl={self._impl!r}>"

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        if self.is_open:
            self.close()

    # -- waiting ----------------------------------------------------------

    def _check_open(self) -> None:
        """Raise a broker close the user has not seen yet."""
        if self._broker_close is not None:
            raise self._take_broker_close()

    def _take_broker_close(self) -> exceptions.ChannelClosedByBroker:
        error = self._broker_close
        if error is None:
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        self._broker_close = None
        self._connection._forget_unseen_close(self)
        return error

    def _raise_closed(self) -> NoReturn:
        raise self._take_broker_close()

    def _wait(self, done: Callable[[], bool]) -> None:
        """Run I/O until ``done()``; raise if the channel closes (or is suspended) first."""
        impl = self._impl
        suspensions = self._suspensions
        self._connection._pump(lambda: done() or impl.is_closed or self._suspensions != suspensions)
        if not done():
            if self._suspensions != suspensions:
                raise exceptions.ConnectionRecoveringError(
                    f"The connection was lost while channel {self.channel_number} waited "
                    "for a reply; it is recovering: retry the call once it has recovered"
                )
            self._raise_closed()

    def _process_data_events(self, time_limit: float | None) -> None:
        self._connection.process_data_events(time_limit)
        self._check_open()

    # -- impl callbacks (run inside frame processing: they only record) ----

    def _on_impl_closed(self, _impl: Channel, reason: Exception) -> None:
        LOGGER.debug("Channel %s closed: %r", self._impl.channel_number, reason)
        if isinstance(reason, exceptions.ChannelClosedByBroker):
            self._broker_close = reason
        self._consumers.clear()
        self._generator = None
        self._connection._on_channel_closed(self)

    def _on_impl_returned(
        self,
        _impl: Channel,
        method: spec.Basic.Return,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._connection._events.append((self._fire_return, method, properties, body))

    def _on_impl_cancelled(self, method_frame: frame.Method[spec.Basic.Cancel]) -> None:
        consumer = self._consumers.get(str(method_frame.method.consumer_tag))
        if isinstance(consumer, GeneratorConsumer):
            consumer.pending.append(None)
        elif consumer is not None:
            self._connection._events.append((self._fire_cancel, method_frame, consumer, None))

    def _on_impl_recovery(self, error: BaseException | None) -> None:
        if error is not None:
            self._suspensions += 1

    def _on_impl_outcome_unknown(self, error: exceptions.PublishOutcomeUnknownError) -> None:
        if error.first_tag <= self._awaited_tag <= error.last_tag:
            self._outcome_unknown = error

    def _on_impl_confirmed(self, event: ev.PublishConfirmed) -> None:
        if event.first_tag <= self._awaited_tag <= event.last_tag:
            self._confirmation = event

    # -- dispatch sinks (run by the connection's dispatcher) --------------

    def _fire_return(
        self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes
    ) -> None:
        self._on_return.run(self, method, properties, body)

    def _fire_cancel(
        self, method_frame: frame.Method[spec.Basic.Cancel], consumer: Consumer, _c: object
    ) -> None:
        tag = consumer.tag
        if self._consumers.get(tag) is consumer:
            del self._consumers[tag]
        self._on_cancel.run(method_frame)

    # -- callbacks ----------------------------------------------------------

    def add_on_cancel_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(frame)`` when the broker cancels a consumer (run while dispatching)."""
        validators.require_callback(callback)
        self._on_cancel.add(callback)

    def add_on_return_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(channel, method, properties, body)`` per Basic.Return (run while dispatching)."""
        validators.require_callback(callback)
        self._on_return.add(callback)

    # -- lifecycle ----------------------------------------------------------

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancel the consumers, close the channel and wait for CloseOk."""
        LOGGER.debug("Closing channel %s (%s): %r", self.channel_number, reply_code, reply_text)
        self._check_open()
        self._cancel_all_consumers()
        impl = self._impl
        impl.close(reply_code, reply_text)
        self._wait(lambda: impl.is_closed)
        self._check_open()  # the broker closed it meanwhile

    # -- publishing -----------------------------------------------------------

    def confirm_delivery(self) -> None:
        """Turn on publisher confirms: basic_publish then waits for each Ack/Nack."""
        if self._confirming:
            LOGGER.error("confirm_delivery: already enabled on channel %s", self.channel_number)
            return
        self._impl._confirm_listener = self._on_impl_confirmed
        self._rpc(self._impl.confirm_delivery, _ignore_frame)
        self._impl._ack_nack_callback = None  # the listener above is all this face needs
        self._confirming = True

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        """Publish; with confirms, wait for the Ack (UnroutableError, NackError)."""
        if self._confirming:
            self._publish_confirmed(exchange, routing_key, body, properties, mandatory)
            return
        if self._broker_close is not None:
            raise self._take_broker_close()
        try:
            self._impl._publish(exchange, routing_key, body, properties, mandatory)
        except exceptions.ConnectionRecoveringError:
            self._publish_after_recovery(exchange, routing_key, body, properties, mandatory)
        self._connection._written()

    def _publish_after_recovery(self, *args: Any) -> int:
        """A publish refused during recovery: wait (if the policy allows), then retry once."""
        self._connection._wait_recovered(self._impl)
        return self._impl._publish(*args)

    def _publish_confirmed(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> None:
        if self._broker_close is not None:
            raise self._take_broker_close()
        self._confirmation = None
        impl = self._impl
        # _publish returns the confirm tag this message will be settled under.
        try:
            tag = impl._publish(exchange, routing_key, body, properties, mandatory)
        except exceptions.ConnectionRecoveringError:
            tag = self._publish_after_recovery(exchange, routing_key, body, properties, mandatory)
        self._awaited_tag = tag
        suspensions = self._suspensions
        try:
            # _wait inlined: this runs once per confirmed message; the confirm can only
            # arrive in an I/O step, hence awaiting=True.
            self._connection._pump(
                lambda: (
                    self._confirmation is not None
                    or impl.is_closed
                    or self._suspensions != suspensions
                ),
                awaiting=True,
            )
        finally:
            self._awaited_tag = 0
        event, self._confirmation = self._confirmation, None
        if event is None:
            unknown, self._outcome_unknown = self._outcome_unknown, None
            if unknown is not None:
                raise unknown
            self._raise_closed()
        if not event.acked or event.returned is not None:
            _raise_unconfirmed(event, self.channel_number)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge one delivery, or all up to ``delivery_tag`` with ``multiple``."""
        self._check_open()
        self._impl.basic_ack(delivery_tag, multiple)
        self._connection._written()

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or more deliveries (RabbitMQ extension)."""
        self._check_open()
        self._impl.basic_nack(delivery_tag, multiple, requeue)
        self._connection._written()

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery."""
        self._check_open()
        self._impl.basic_reject(delivery_tag, requeue)
        self._connection._written()

    # -- consuming ------------------------------------------------------------

    def basic_consume(self, *args: Any, **kwargs: Any) -> str:
        """Start a consumer; returns its tag once the broker has confirmed it.

        ``basic_consume(queue, on_message_callback, auto_ack=False, exclusive=False,
        consumer_tag=None, arguments=None)``; the pika 0.x form
        ``basic_consume(on_message_callback, queue=..., no_ack=...)`` works too.
        ``on_message_callback(channel, method, properties, body)`` runs only inside
        the dispatching calls (start_consuming, process_data_events, sleep, consume).
        """
        bound = bind_consume(args, kwargs)
        if bound.callback is not None:
            raise TypeError("BlockingChannel.basic_consume() takes no 'callback' argument")
        validators.require_string(bound.queue, "queue")
        validators.require_callback(bound.on_message_callback, "on_message_callback")
        self._check_open()
        consumer = Consumer(
            self, bound.on_message_callback, bound.auto_ack, self._connection._events.append
        )
        return self._start_consumer(
            consumer, bound.queue, bound.exclusive, bound.consumer_tag, bound.arguments
        )

    basic_consume.__signature__ = modern_signature(drop=("callback",))  # type: ignore[attr-defined]

    def _start_consumer(
        self,
        consumer: AnyConsumer,
        queue: str,
        exclusive: bool,
        consumer_tag: str | None,
        arguments: dict[str, Any] | None,
    ) -> str:
        if consumer_tag and consumer_tag in self._consumers:
            raise exceptions.DuplicateConsumerTag(consumer_tag)
        reply = Reply()
        tag = self._impl.basic_consume(
            queue, consumer.deliver, consumer.auto_ack, exclusive, consumer_tag, arguments, reply
        )
        consumer.tag = tag
        self._consumers[tag] = consumer
        try:
            self._wait(lambda: reply.done)
        except exceptions.ConnectionRecoveringError:
            # The caller hears that this consume failed: it must not come back by itself.
            del self._consumers[tag]
            self._impl._not_restored(tag)
            raise
        return tag

    def basic_cancel(self, consumer_tag: str) -> list[Message]:
        """Cancel a consumer and wait for CancelOk.

        Messages already received but not yet dispatched are rejected with requeue
        for a manual-ack consumer (returns ``[]``) and returned as
        ``(method, properties, body)`` tuples for an auto-ack one.
        """
        consumer = self._consumers.get(consumer_tag)
        if consumer is None:
            LOGGER.warning(
                "basic_cancel: unknown consumer %r on channel %s (already cancelled?)",
                consumer_tag,
                self.channel_number,
            )
            return []
        reply = Reply()
        active = consumer_tag in self._impl.consumer_tags
        if active:
            self._impl.basic_cancel(consumer_tag, reply)
        pending = self._forget_consumer(consumer)
        if not consumer.auto_ack:
            self._requeue(pending)
        if active:
            self._wait(lambda: reply.done)
        return pending if consumer.auto_ack else []

    def _forget_consumer(self, consumer: AnyConsumer) -> list[Message]:
        """Drop a consumer and take its undispatched messages."""
        if self._consumers.get(consumer.tag) is consumer:
            del self._consumers[consumer.tag]
        if isinstance(consumer, GeneratorConsumer):
            if self._generator is consumer:
                self._generator = None
            self._connection._generators.discard(consumer)
            taken = [message for message in consumer.pending if message is not None]
            consumer.pending.clear()
            return taken
        entries = remove_entries(self._connection._events, lambda entry: entry[0] is consumer)
        return [(method, properties, body) for _, method, properties, body in entries]

    def _requeue(self, messages: list[Message]) -> None:
        if not messages or not self._impl.is_open:
            return
        for method, _properties, _body in messages:
            self._impl.basic_reject(int(method.delivery_tag or 0), requeue=True)
        self._connection._written()

    def start_consuming(self) -> None:
        """Dispatch events until this channel has no consumers left."""
        if self._connection._dispatching:
            raise exceptions.ReentrancyError(
                "start_consuming may not be called from the scope of another "
                "BlockingConnection or BlockingChannel callback"
            )
        self._check_open()
        if not self._impl.is_open:
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        while self._consumers:
            self._process_data_events(None)

    def stop_consuming(self, consumer_tag: str | None = None) -> None:
        """Cancel one consumer, or all of them (the consume() generator's included)."""
        if consumer_tag:
            self.basic_cancel(consumer_tag)
        else:
            self._cancel_all_consumers()

    def _cancel_all_consumers(self) -> None:
        if self._generator is not None:
            self.cancel()
        for tag in list(self._consumers):
            self.basic_cancel(tag)

    # Without inactivity_timeout no (None, None, None) is ever yielded, so
    # typed callers get a non-optional body.
    @overload
    def consume(
        self,
        queue: str,
        auto_ack: bool = ...,
        exclusive: bool = ...,
        arguments: dict[str, Any] | None = ...,
        inactivity_timeout: None = None,
        consumer_tag: str | None = ...,
    ) -> Generator[Message, None, None]: ...

    @overload
    def consume(
        self,
        queue: str,
        auto_ack: bool = ...,
        exclusive: bool = ...,
        arguments: dict[str, Any] | None = ...,
        inactivity_timeout: float | None = ...,
        consumer_tag: str | None = ...,
    ) -> Generator[Message | NoMessage, None, None]: ...

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        inactivity_timeout: float | None = None,
        consumer_tag: str | None = None,
    ) -> Generator[Message | NoMessage, None, None]:
        """Yield ``(method, properties, body)`` per message; the consumer starts lazily.

        With ``inactivity_timeout`` it yields ``(None, None, None)`` after that many idle
        seconds. A second call with the same ``(queue, auto_ack, exclusive)`` resumes
        the same consumer; the generator ends on cancel() or a broker cancellation.
        """
        validators.require_string(queue, "queue")
        generator = self._generator_for((queue, auto_ack, exclusive), arguments, consumer_tag)
        idle_since: float | None = None
        while self._generator is generator:
            if generator.pending:
                message = generator.pending.popleft()
                if message is None:
                    self._forget_consumer(generator)
                    return
                idle_since = None
                yield message
                continue
            idle_since = yield from self._wait_for_message(inactivity_timeout, idle_since)
        self._check_open()

    def _generator_for(
        self,
        params: tuple[str, bool, bool],
        arguments: dict[str, Any] | None,
        consumer_tag: str | None,
    ) -> GeneratorConsumer:
        generator = self._generator
        if generator is not None:
            if generator.params != params:
                raise ValueError(
                    f"Consume with different params not allowed on existing queue consumer "
                    f"generator; previous params: {generator.params!r}; new params: {params!r}"
                )
            return generator
        self._check_open()
        generator = GeneratorConsumer(self, params)
        self._generator = generator
        self._connection._generators.add(generator)
        try:
            self._start_consumer(generator, params[0], params[2], consumer_tag, arguments)
        except BaseException:
            self._forget_consumer(generator)
            raise
        return generator

    def _wait_for_message(
        self, inactivity_timeout: float | None, idle_since: float | None
    ) -> Generator[NoMessage, None, float | None]:
        if inactivity_timeout is None:
            self._process_data_events(None)
            return None
        now = time.monotonic()
        if idle_since is None:
            idle_since = now
        remaining = inactivity_timeout - (now - idle_since)
        if remaining <= 0:
            yield (None, None, None)
            return None
        self._process_data_events(remaining)
        return idle_since

    def cancel(self) -> int:
        """Cancel the consume() generator's consumer; always returns 0."""
        generator = self._generator
        if generator is None:
            LOGGER.warning(
                "cancel: no active consume() generator on channel %s", self.channel_number
            )
            return 0
        if generator.tag in self._consumers:
            self.basic_cancel(generator.tag)
        else:
            self._forget_consumer(generator)
        return 0

    def get_waiting_message_count(self) -> int:
        """Messages buffered for the consume() generator."""
        generator = self._generator
        return 0 if generator is None else generator.waiting_count()

    def basic_get(self, queue: str, auto_ack: bool = False) -> GetResult | NoMessage:
        """Fetch one message: ``(method, properties, body)``, or ``(None, None, None)``."""
        validators.require_string(queue, "queue")
        self._check_open()
        reply = GetReply()
        impl = self._impl
        impl.add_callback(reply.on_empty, [spec.Basic.GetEmpty], one_shot=True)
        try:
            impl.basic_get(queue, reply.on_message, auto_ack)
            self._wait(lambda: reply.done)
        finally:
            impl.remove_callback(reply.on_empty, [spec.Basic.GetEmpty])
        return reply.message or (None, None, None)


def _raise_unconfirmed(event: ev.PublishConfirmed, channel_number: int) -> None:
    """Raise NackError or UnroutableError for a confirm that was not a clean Ack."""
    returned = event.returned
    messages = []
    if returned is not None:
        messages.append(ReturnedMessage(returned.method, returned.properties, returned.body))
    if not event.acked:
        LOGGER.warning("Message was nacked by the broker on channel %s", channel_number)
        raise exceptions.NackError(messages)
    if messages:
        raise exceptions.UnroutableError(messages)


BlockingChannel.__module__ = "pika.adapters.blocking_connection"
