"""BlockingConnection: pika's synchronous API over a SelectConnection.

Theory of operation: the connection owns a private select ``IOLoop`` and
drives it itself (``_pump``: poll, run due timers, until a condition holds).
The impl SelectConnection and its channels report into plain holders and a
ready queue of ``(sink, a, b, c)`` entries; user callbacks (deliveries,
returns, cancellations, timers, thread-safe callbacks, blocked/unblocked)
run only when a dispatching call (process_data_events, sleep,
start_consuming, consume) drains that queue, never while frames are being
processed.  A dispatch running inside a callback is suppressed, so user code
cannot re-enter the dispatcher.

Publishes and acks without confirms hand their bytes to the transport and
return without a loop pass unless the transport reports a backlog or no I/O
pass has run for ``_IO_INTERVAL`` seconds; that periodic zero-wait pass is how
a busy publisher still notices inbound frames (a Channel.Close, heartbeats).
"""

from __future__ import annotations

import collections
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pika import exceptions, frame
from pika._callback_list import CallbackList
from pika._params import Parameters
from pika.adapters import select_connection
from pika.adapters._blocking_channel import BlockingChannel
from pika.adapters._blocking_io import IOStepper
from pika.adapters._blocking_support import (
    Consumer,
    EventQueue,
    GeneratorConsumer,
    Reply,
    ReturnedMessage,
    TimeoutClosedError,
    UserTimer,
    call_now,
    connect_error,
    owner_of,
    remove_entries,
)

__all__ = ["BlockingChannel", "BlockingConnection", "ReturnedMessage"]

LOGGER = logging.getLogger(__name__)

#: Longest time a publish/ack without backlog goes without a zero-wait I/O pass.
_IO_INTERVAL = 0.01
# Longest time writes made by a batch of callbacks (acks, above all) are held back.
_WRITE_HOLD = 0.005


class BlockingConnection:
    """An AMQP connection whose methods block until the broker has answered.

    ``parameters`` is None (the defaults), a Parameters instance, or a non-empty
    sequence of them tried in turn; the constructor returns once the connection
    is open and raises the last attempt's error otherwise.
    """

    def __init__(
        self, parameters: Parameters | Sequence[Parameters] | None = None, _impl_class: Any = None
    ) -> None:
        configs = _config_list(parameters)
        self._events: EventQueue = collections.deque()
        self._dispatching = False
        self._channels: dict[int, BlockingChannel] = {}
        self._generators: set[GeneratorConsumer] = set()
        self._unseen_closes: list[BlockingChannel] = []
        self._close_error: Exception | None = None
        self._close_reported = False
        self._last_io = 0.0
        self._on_blocked = CallbackList("blocking connection blocked")
        self._on_unblocked = CallbackList("blocking connection unblocked")
        self._on_close: list[Callable[..., Any]] = []
        self._ioloop = select_connection.IOLoop()
        self._stepper = IOStepper(self._ioloop)
        self._impl = self._connect(configs, _impl_class or select_connection.SelectConnection)
        self._impl.add_on_close_callback(self._on_impl_closed)
        self._impl.add_on_connection_blocked_callback(self._on_impl_blocked)
        self._impl.add_on_connection_unblocked_callback(self._on_impl_unblocked)

    def _connect(self, configs: list[Parameters], impl_class: Any) -> Any:
        """Run the connection workflow on the private loop until it is done."""
        loop = self._ioloop
        outcome = Reply()
        try:
            loop.activate_poller()
            impl_class.create_connection(configs, outcome, custom_ioloop=loop)
            while not outcome.done:
                loop.poll()
                loop.process_timeouts()
        except BaseException:
            loop.close()
            raise
        result = outcome.value
        if isinstance(result, BaseException):
            loop.close()
            raise connect_error(result)
        return result

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} impl={self._impl!r}>"

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        if self.is_open or self.is_recovering:
            self.close()

    # -- driving the loop ---------------------------------------------------

    def _pump(
        self,
        done: Callable[[], bool] | None = None,
        deadline: float | None = None,
        awaiting: bool = False,
    ) -> None:
        """Run I/O until output is flushed and ``done()`` holds, or the connection ends.

        With a ``deadline`` (time.monotonic() seconds) it also stops once that has passed
        (after at least one I/O step, unless ``done()`` held from the start).
        ``awaiting`` says ``done()`` cannot hold before an I/O step (the answer to a
        request just sent), so the first check is skipped.
        """
        impl = self._impl
        if impl.is_closed:
            self._raise_closed()
        held = impl._holding_writes
        if held:  # a callback waits for I/O: what it (and the batch) wrote goes out first
            impl._holding_writes = False
            impl._flush()
        step = self._stepper.step
        buffered = impl._get_write_buffer_size
        expired = closed = False
        try:
            # buffered() is asked last: it is only worth asking once the caller is satisfied.
            while awaiting or not (expired or done is None or done()) or buffered():
                awaiting = False
                step(impl, deadline)
                if impl.is_closed:
                    closed = True
                    break
                if deadline is not None:
                    expired = time.monotonic() >= deadline
        finally:
            impl._holding_writes = held
        self._last_io = time.monotonic()
        if closed:
            self._raise_closed(during_pump=True)

    def _written(self) -> None:
        """After an async write: flush if backed up, and look at inbound data now and then."""
        if self._impl._get_write_buffer_size() or time.monotonic() - self._last_io >= _IO_INTERVAL:
            self._stepper.step(self._impl, 0.0)  # a deadline in the past: no waiting
            self._pump()

    def _raise_closed(self, during_pump: bool = False) -> None:
        """The impl is closed: report why (once per pump), or that it is closed."""
        if self._close_reported and not during_pump:
            raise exceptions.ConnectionWrongStateError(
                "BlockingConnection operation on a closed connection"
            )
        self._observe_close()
        error = self._close_error
        if error is not None and not isinstance(error, exceptions.ConnectionClosedByClient):
            raise error

    def _observe_close(self) -> None:
        if self._close_reported:
            return
        self._close_reported = True
        self._ioloop.close()
        for callback in self._on_close:
            try:
                callback(self, self._close_error)
            except Exception:
                LOGGER.exception("Connection close callback %r failed", callback)

    # -- impl callbacks (inside frame processing: record only) ---------------

    def _on_impl_closed(self, _impl: Any, error: Exception) -> None:
        LOGGER.debug("BlockingConnection closed: %r", error)
        self._close_error = error

    def _on_impl_blocked(self, _impl: Any, method_frame: frame.Method[Any]) -> None:
        self._events.append((self._fire_blocked, method_frame, None, None))

    def _on_impl_unblocked(self, _impl: Any, method_frame: frame.Method[Any]) -> None:
        self._events.append((self._fire_unblocked, method_frame, None, None))

    def _on_channel_closed(self, channel: BlockingChannel) -> None:
        """A channel closed: drop its queued events; remember an unseen broker close."""
        if self._channels.get(channel.channel_number) is channel:
            del self._channels[channel.channel_number]
        remove_entries(self._events, lambda entry: owner_of(entry[0]) is channel)
        self._generators = {g for g in self._generators if g.channel is not channel}
        if channel._broker_close is not None:
            self._unseen_closes.append(channel)

    def _forget_unseen_close(self, channel: BlockingChannel) -> None:
        if channel in self._unseen_closes:
            self._unseen_closes.remove(channel)

    # -- dispatching ------------------------------------------------------------

    def _fire_blocked(self, method_frame: frame.Method[Any], _b: object, _c: object) -> None:
        self._on_blocked.run(self, method_frame)

    def _fire_unblocked(self, method_frame: frame.Method[Any], _b: object, _c: object) -> None:
        self._on_unblocked.run(self, method_frame)

    def _has_ready_events(self) -> bool:
        if self._events or self._unseen_closes:
            return True
        generators = self._generators
        return bool(generators) and any(generator.pending for generator in generators)

    def _dispatch(self) -> None:
        """Run the events queued so far (not those they cause); errors propagate."""
        events = self._events
        count = len(events)
        if not count:
            return
        self._dispatching = True
        impl = self._impl
        # Acks (and other writes) made by this batch of callbacks go out together at its
        # end, or once they have waited _WRITE_HOLD seconds: fewer sends for the same data.
        impl._holding_writes = True
        since = time.monotonic()
        try:
            popleft = events.popleft
            while count and events:
                count -= 1
                sink, a, b, c = popleft()
                if type(sink) is Consumer:
                    sink.on_message(sink.channel, a, b, c)
                else:
                    sink(a, b, c)
                if impl._engine.outbox.chunks and time.monotonic() - since >= _WRITE_HOLD:
                    impl._holding_writes = False
                    impl._flush()
                    impl._holding_writes = True
                    since = time.monotonic()
        finally:
            self._dispatching = False
            impl._holding_writes = False
            impl._flush()

    def process_data_events(self, time_limit: float | None = 0) -> None:
        """Do I/O and run the ready callbacks.

        ``time_limit=0`` returns as soon as possible, ``None`` waits until at least one
        event is ready, a number waits up to that many seconds for one.  Inside a
        callback this does I/O only (nested dispatch is suppressed).
        """
        if self._impl.is_closed and self._close_reported:
            if time_limit is None:
                raise exceptions.ConnectionWrongStateError(
                    "BlockingConnection.process_data_events() called on a closed connection"
                )
            raise TimeoutClosedError("Timeout closed before call")
        if time_limit is None:
            self._pump(self._has_ready_events)
        else:
            self._pump(self._has_ready_events, time.monotonic() + time_limit)
        if self._dispatching:
            return
        self._dispatch()
        if self._unseen_closes:
            raise self._unseen_closes[0]._take_broker_close()

    def sleep(self, duration: float) -> None:
        """Like time.sleep, while doing I/O and running callbacks."""
        if duration < 0:
            raise AssertionError(f"sleep duration must be >= 0, got {duration!r}")
        deadline = time.monotonic() + duration
        remaining = duration
        while True:
            self.process_data_events(remaining)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break

    # -- timers and thread-safe callbacks -------------------------------------

    def call_later(self, delay: float, callback: Callable[[], Any]) -> object:
        """Run ``callback()`` after ``delay`` seconds, during a dispatching call."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, but got {callback!r}")
        timer = UserTimer(callback)
        entry = (timer.fire, None, None, None)
        timer.handle = self._ioloop.call_later(delay, functools.partial(self._events.append, entry))
        return timer

    def remove_timeout(self, timeout_id: object) -> None:
        """Cancel a timer from call_later, even one that fired but has not run yet."""
        if not isinstance(timeout_id, UserTimer):
            raise TypeError(f"Expected a handle returned by call_later, got {timeout_id!r}")
        timeout_id.callback = None
        self._ioloop.remove_timeout(timeout_id.handle)

    def add_timeout(self, deadline: float, callback: Callable[[], Any]) -> object:
        """Legacy (pika 0.x) name of call_later; ``deadline`` is seconds from now."""
        return self.call_later(deadline, callback)

    def process_timeouts(self) -> None:
        """Legacy (pika 0.x): run the due timers (and any other ready callbacks)."""
        self.process_data_events(0)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the connection's thread at the next dispatching call.

        The only method that may be called from another thread.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, but got {callback!r}")
        if self._impl.is_closed or self._impl.is_closing:
            raise exceptions.ConnectionWrongStateError(
                "BlockingConnection.add_callback_threadsafe() called on closed or closing "
                "connection."
            )
        entry = (call_now, callback, None, None)
        self._ioloop.add_callback_threadsafe(functools.partial(self._events.append, entry))

    # -- callbacks ------------------------------------------------------------------

    def add_on_connection_blocked_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(connection, frame)`` on Connection.Blocked, run while dispatching."""
        self._on_blocked.add(_checked(callback))

    def add_on_connection_unblocked_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(connection, frame)`` on Connection.Unblocked, run while dispatching."""
        self._on_unblocked.add(_checked(callback))

    def add_on_open_callback(self, callback: Callable[..., Any]) -> None:
        """Legacy (pika 0.x): ``callback(connection)``; the connection is already open,
        so it runs at the next dispatching call."""
        entry = (call_now, functools.partial(_checked(callback), self), None, None)
        self._events.append(entry)

    def add_on_close_callback(self, callback: Callable[..., Any]) -> None:
        """Legacy (pika 0.x): ``callback(connection, exception)`` once the connection has
        closed, run by the blocking call that notices it."""
        self._on_close.append(_checked(callback))

    def add_backpressure_callback(self, callback: Callable[..., Any]) -> None:
        """Legacy (pika 0.x): ``callback(connection)`` when the write buffer backs up."""
        _checked(callback)

        def queue_it(_impl: Any) -> None:
            self._events.append((call_now, functools.partial(callback, self), None, None))

        self._impl.add_backpressure_callback(queue_it)

    def set_backpressure_multiplier(self, value: int = 10) -> None:
        """Legacy (pika 0.x): backpressure threshold as a multiple of the average frame."""
        self._impl.set_backpressure_multiplier(value)

    # -- channels and closing ------------------------------------------------------

    def channel(self, channel_number: int | None = None) -> BlockingChannel:
        """Open a channel and wait until it is open."""
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"Channel allocation requires an open connection: {self!r}"
            )
        opened = Reply()
        impl_channel = self._impl.channel(channel_number=channel_number, on_open_callback=opened)
        channel = BlockingChannel(impl_channel, self)
        self._channels[impl_channel.channel_number] = channel
        channel._wait(lambda: opened.done)
        return channel

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close every open channel (cancelling consumers), then the connection."""
        if not (self.is_open or self.is_recovering):
            raise exceptions.ConnectionWrongStateError(
                f"BlockingConnection.close({reply_code}, {reply_text!r}) called on closed "
                "connection."
            )
        LOGGER.info("Closing connection (%s): %r", reply_code, reply_text)
        for channel in list(self._channels.values()):
            if channel.is_open:
                try:
                    channel.close(reply_code, reply_text)
                except exceptions.ChannelClosed as exc:
                    LOGGER.warning("Ignoring channel error while closing %r: %r", channel, exc)
        self._impl.close(reply_code, reply_text)
        self._pump(lambda: False)  # returns once the impl is closed
        # Nothing dispatches after close(): the recovery events it caused (a close
        # during recovery ends it with RecoveryGaveUp) are delivered now.
        for run, callback, b, c in remove_entries(self._events, _is_recovery_event):
            run(callback, b, c)

    def update_secret(self, new_secret: str, reason: str) -> None:
        """Replace the connection's secret (RabbitMQ extension); waits for UpdateSecretOk."""
        reply = Reply()
        self._impl.update_secret(new_secret, reason, callback=reply)
        self._pump(lambda: reply.done)

    # -- properties -------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the connection is open."""
        return bool(self._impl.is_open)

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return bool(self._impl.is_closed)

    @property
    def is_recovering(self) -> bool:
        """True while automatic recovery re-establishes a lost connection."""
        return bool(self._impl.is_recovering)

    # -- automatic recovery -------------------------------------------------------

    def add_on_recovery_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(connection, event)`` per ``pika.recovery`` event (run while dispatching)."""
        _checked(callback)

        def queue_it(_impl: Any, event: object) -> None:
            self._events.append(
                (_run_recovery, functools.partial(callback, self, event), None, None)
            )

        self._impl.add_on_recovery_callback(queue_it)

    def _wait_recovered(self, impl_channel: Any) -> None:
        """Wait up to the policy's publish_wait_timeout for ``impl_channel`` to recover.

        Raises ConnectionRecoveringError if it has not (or the policy says not to wait).
        """
        recovery = self._impl._recovery
        timeout = 0.0 if recovery is None else recovery.policy.publish_wait_timeout
        if timeout > 0:
            self._pump(lambda: not impl_channel._recovering, time.monotonic() + timeout)
        if impl_channel._recovering:
            raise exceptions.ConnectionRecoveringError(
                f"basic_publish refused on channel {impl_channel.channel_number}: the "
                f"connection is still recovering after {timeout:g} s"
            )

    @property
    def basic_nack_supported(self) -> bool:
        """True if the broker supports basic.nack."""
        return bool(self._impl.basic_nack)

    @property
    def consumer_cancel_notify_supported(self) -> bool:
        """True if the broker sends consumer cancel notifications."""
        return bool(self._impl.consumer_cancel_notify)

    @property
    def exchange_exchange_bindings_supported(self) -> bool:
        """True if the broker supports exchange-to-exchange bindings."""
        return bool(self._impl.exchange_exchange_bindings)

    @property
    def publisher_confirms_supported(self) -> bool:
        """True if the broker supports publisher confirms."""
        return bool(self._impl.publisher_confirms)

    basic_nack = basic_nack_supported
    consumer_cancel_notify = consumer_cancel_notify_supported
    exchange_exchange_bindings = exchange_exchange_bindings_supported
    publisher_confirms = publisher_confirms_supported


def _run_recovery(callback: Callable[[], Any], _b: object, _c: object) -> None:
    """The event-queue sink of recovery callbacks (call_now, but told apart)."""
    callback()


def _is_recovery_event(entry: tuple[Any, ...]) -> bool:
    return entry[0] is _run_recovery


def _checked(callback: Callable[..., Any]) -> Callable[..., Any]:
    if not callable(callback):
        raise TypeError(f"callback must be callable, but got {callback!r}")
    return callback


def _config_list(parameters: Parameters | Sequence[Parameters] | None) -> list[Parameters]:
    """One or more Parameters as a list (None means the defaults)."""
    if parameters is None:
        return [Parameters()]
    if isinstance(parameters, Parameters):
        return [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise TypeError(
            f"parameters must be a Parameters instance or a sequence of them, "
            f"got {type(parameters).__name__}"
        )
    configs = list(parameters)
    if not configs:
        raise ValueError("parameters must not be an empty sequence")
    for params in configs:
        if not isinstance(params, Parameters):
            raise TypeError(f"Expected instance of Parameters, not {type(params).__name__}")
    return configs
