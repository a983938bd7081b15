"""The thread-safe ``Channel``: every method callable from any thread.

Each method marshals a small closure onto the I/O thread, where it drives the
callback-style ``pika.channel.Channel`` (the "impl"), and either waits for the
reply through a future (RPCs) or returns at once (publish, ack, nack, reject).
Events from the impl arrive on the I/O thread and are handed, in order, to
this channel's worker thread (``pika-consumer``) as work items, so user
callbacks never run on the I/O thread.

Shared state (see the module docstring of thread_safe_connection for the
whole picture):

* ``_lock`` guards the user's return and cancel callback tuples (replaced, never
  mutated, so the I/O thread reads a consistent snapshot without the lock);
* ``_reason`` is written once, on the I/O thread, before any future it fails is
  settled; other threads only read it (a reference read is atomic);
* ``_usable`` (a ``threading.Event``) is cleared and set only on the I/O
  thread, when automatic recovery suspends and resumes the impl; publishers
  on other threads wait on it (``RecoveryPolicy.publish_wait_timeout``);
* everything else (``_rpcs``, ``_gets``, ``_getter``, ``_opener``, ``_cancel_on_resume``,
  ``_confirms``, ``_streams``, ``_select_ok``, ``_ack_nack_callback``) is
  touched only on the I/O thread.

Automatic recovery keeps this object, its consumers (same tags, same
callbacks or ``consume()`` stream) and its worker across a lost connection.
When the impl is suspended, replies that will never come fail their waiters
with ConnectionRecoveringError, unsettled ``publish_with_confirm`` futures
fail with PublishOutcomeUnknownError, and publishes are refused (or wait)
until the impl resumes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import copy
import enum
import functools
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, overload

from pika import channel as channel_mod
from pika import exceptions, frame, spec
from pika._message_types import GetResult, Message, NoMessage
from pika.adapters._threadsafe_calls import Reason, check_timeout, fail, resolve
from pika.adapters._threadsafe_confirms import ConfirmWaiters
from pika.adapters._threadsafe_queue import CLOSED, TIMED_OUT, BoundedBuffer, WorkQueue
from pika.adapters._threadsafe_rpcs import DEFAULT_RPC_TIMEOUT, ChannelRpcs

if TYPE_CHECKING:
    from pika.adapters.thread_safe_connection import Connection

LOGGER = logging.getLogger("pika.adapters.thread_safe_connection")


Callback = Callable[..., Any]
_Future = concurrent.futures.Future


class _End(enum.Enum):
    """Marker put in a consume() stream when the broker cancels its consumer."""

    CANCELLED = "cancelled"


class Channel(ChannelRpcs):
    """An AMQP channel shared by any number of threads (see pika.Connection)."""

    def __init__(self, connection: Connection, impl: channel_mod.Channel) -> None:
        # Built on the I/O thread by Connection.channel().
        self._connection = connection
        self._impl = impl
        self._number = impl.channel_number
        self._lock = threading.Lock()
        self._reason: Reason | None = None
        self._closed: _Future[BaseException] = connection._track(concurrent.futures.Future())
        self._worker = WorkQueue("pika-consumer", connection._maxsize, connection._put_timeout)
        self._return_callbacks: tuple[Callback, ...] = ()
        self._cancel_callbacks: tuple[Callback, ...] = ()
        self._ack_nack_callback: Callback | None = None
        self._select_ok: frame.Method[Any] | None = None
        self._rpcs: set[_Future[Any]] = set()
        self._gets: collections.deque[tuple[str, bool, _Future[Any]]] = collections.deque()
        self._getter: _Get | None = None  # the basic_get on the wire
        self._opener: _Future[Any] | None = None  # Connection.channel()'s future until OpenOk
        self._usable = threading.Event()  # clear while recovery has the impl suspended
        self._usable.set()
        self._cancel_on_resume: set[str] = set()  # consume() streams closed meanwhile
        self._confirms = ConfirmWaiters()
        self._streams: dict[str, BoundedBuffer] = {}
        impl.add_on_close_callback(self._on_closed)
        impl.add_on_return_callback(self._on_returned)
        impl.add_on_cancel_callback(self._on_cancelled)
        impl._confirm_listener = self._confirms.settle
        impl._recovery_listener = self._on_recovery
        # basic_consume futures still awaiting ConsumeOk -> their consumer tags (I/O thread).
        self._unconfirmed: dict[_Future[Any], str] = {}
        impl._outcome_listener = self._on_outcome_unknown

    def __repr__(self) -> str:
        if self._reason is not None:
            state = "CLOSED"
        elif not self._usable.is_set():
            state = "RECOVERING"
        else:
            state = "OPEN" if self.is_open else "OPENING"
        return f"<{type(self).__name__} number={self._number} {state} conn={self._connection!r}>"

    def __int__(self) -> int:
        return self._number

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._reason is None and self._connection._reason is None:
            self.close()

    # -- properties -------------------------------------------------------

    @property
    def channel_number(self) -> int:
        """This channel's number."""
        return self._number

    @property
    def connection(self) -> Connection:
        """The thread-safe Connection this channel belongs to."""
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
    def next_publish_seq_no(self) -> int | None:
        """The confirm tag the next publish gets; None before confirm mode."""
        return self._impl._next_publish_tag()

    @property
    def consumer_tags(self) -> list[str]:
        """Tags of the active consumers ([] once closed)."""
        if self._reason is not None or self._connection._reason is not None:
            return []
        if self._connection._on_io_thread():
            return self._impl.consumer_tags
        try:
            tags: list[str] = self._connection._call(
                "consumer_tags", DEFAULT_RPC_TIMEOUT, self._read_consumer_tags, self
            )
        except exceptions.AMQPError:
            return []  # closed meanwhile
        return tags

    # -- callbacks ----------------------------------------------------------

    def add_on_return_callback(self, callback: Callback) -> None:
        """``callback(channel, method, properties, body)`` per Basic.Return, on the worker."""
        _require_callable(callback, "callback")
        with self._lock:
            self._return_callbacks += (callback,)

    def add_on_cancel_callback(self, callback: Callback) -> None:
        """``callback(frame)`` when the broker cancels a consumer, on the worker."""
        _require_callable(callback, "callback")
        with self._lock:
            self._cancel_callbacks += (callback,)

    # -- fire-and-forget ------------------------------------------------------

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
        on_publish: Callable[[int], Any] | None = None,
    ) -> None:
        """Publish without waiting; ``on_publish(delivery_tag)`` runs on the I/O thread.

        Raises at once only if the channel or connection is known to be closed,
        or, with automatic recovery, ConnectionRecoveringError while the
        connection recovers (see ``RecoveryPolicy.publish_wait_timeout``).
        """
        if on_publish is not None:
            _require_callable(on_publish, "on_publish")
        data, props = _message_copy(body, properties)
        self._await_recovery("basic_publish")

        def publish() -> None:
            tag = self._impl._publish(exchange, routing_key, data, props, mandatory)
            if tag and on_publish is not None:
                try:
                    on_publish(tag)
                except Exception:
                    LOGGER.exception("on_publish(%d) raised (ignored)", tag)

        self._connection._fire("basic_publish", publish, self)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge a delivery (without waiting)."""
        self._connection._fire(
            "basic_ack", lambda: self._impl.basic_ack(delivery_tag, multiple), self
        )

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Negatively acknowledge deliveries (without waiting)."""
        self._connection._fire(
            "basic_nack", lambda: self._impl.basic_nack(delivery_tag, multiple, requeue), self
        )

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject a delivery (without waiting)."""
        if not isinstance(delivery_tag, int) or isinstance(delivery_tag, bool):
            raise TypeError(f"delivery_tag must be an integer, got {delivery_tag!r}")
        self._connection._fire(
            "basic_reject", lambda: self._impl.basic_reject(delivery_tag, requeue), self
        )

    # -- publisher confirms -----------------------------------------------------

    def confirm_delivery(
        self, ack_nack_callback: Callback | None = None, timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method[Any]:
        """Enter confirm mode; returns the SelectOk frame (idempotent).

        ``ack_nack_callback(frame)`` runs on the worker for every Ack/Nack; a
        later call replaces it.  Without it, use ``publish_with_confirm``.
        """
        if ack_nack_callback is not None:
            _require_callable(ack_nack_callback, "ack_nack_callback")

        def start(fut: _Future[Any]) -> None:
            if ack_nack_callback is not None:
                self._ack_nack_callback = ack_nack_callback
            if self._select_ok is not None:
                resolve(fut, self._select_ok)
                return

            def selected(method_frame: frame.Method[Any]) -> None:
                self._select_ok = method_frame
                self._replied(fut, method_frame)

            self._send(fut, lambda: self._impl.confirm_delivery(self._on_ack_nack, selected))

        result: frame.Method[Any] = self._connection._call("confirm_delivery", timeout, start, self)
        return result

    def publish_with_confirm(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> concurrent.futures.Future[frame.Method[Any]]:
        """Publish in confirm mode; the returned future settles with the outcome.

        It resolves with the Basic.Ack frame, or fails with UnroutableError (a
        mandatory message came back), NackError, the channel/connection close
        reason when the channel closed first (outcome unknown), or, with
        automatic recovery, PublishOutcomeUnknownError when the connection
        dropped first.  Raises ConnectionRecoveringError like ``basic_publish``.
        """
        data, props = _message_copy(body, properties)
        self._await_recovery("publish_with_confirm")
        future: _Future[Any] = concurrent.futures.Future()

        def publish(fut: _Future[Any]) -> None:
            if self._impl._next_publish_tag() is None:
                raise exceptions.ChannelWrongStateError(
                    f"publish_with_confirm on channel {self._number} needs confirm mode: "
                    "call confirm_delivery() first"
                )
            tag = self._impl._publish(exchange, routing_key, data, props, mandatory)
            self._confirms.track(tag, fut, props, data)

        return self._connection._start(publish, self, future)

    # -- consumers -----------------------------------------------------------

    def basic_consume(
        self,
        queue: str,
        on_message_callback: Callback,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str | None = None,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> str:
        """Start a consumer; returns its tag once ConsumeOk arrives.

        ``on_message_callback(channel, method, properties, body)`` runs on this
        channel's worker thread, in delivery order; its exceptions are logged.
        """
        _require_callable(on_message_callback, "on_message_callback")

        def deliver(_impl: object, method: Any, properties: Any, body: bytes) -> None:
            work = functools.partial(on_message_callback, self, method, properties, body)
            self._connection._offer(self._worker, work)

        args = (queue, auto_ack, exclusive, consumer_tag, arguments)
        tag: str = self._consume("basic_consume", timeout, deliver, None, args)
        return tag

    def basic_cancel(
        self, consumer_tag: str = "", timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method[Any] | None:
        """Cancel a consumer; returns the CancelOk frame (None if the tag is not active)."""

        def start(fut: _Future[Any]) -> None:
            if not self._usable.is_set():
                raise exceptions.ConnectionRecoveringError(
                    f"basic_cancel refused on channel {self._number}: the connection is recovering"
                )
            stream = self._streams.pop(consumer_tag, None)
            if stream is not None:  # a consume() generator: let it end
                stream.put_control(_End.CANCELLED)
            if consumer_tag not in self._impl.consumer_tags:
                resolve(fut, None)
                return
            reply = functools.partial(self._replied, fut)
            self._send(fut, lambda: self._impl.basic_cancel(consumer_tag, callback=reply))

        result: frame.Method[Any] | None = self._connection._call(
            "basic_cancel", timeout, start, self
        )
        return result

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
        timeout: float | None = ...,
    ) -> Generator[Message, None, None]: ...

    @overload
    def consume(
        self,
        queue: str,
        auto_ack: bool = ...,
        exclusive: bool = ...,
        arguments: dict[str, Any] | None = ...,
        inactivity_timeout: float | None = ...,
        timeout: float | None = ...,
    ) -> Generator[Message | NoMessage, None, None]: ...

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        inactivity_timeout: float | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> Generator[Message | NoMessage, None, None]:
        """Yield ``(method, properties, body)`` per delivery from a new consumer.

        The consumer starts on the first ``next()``. ``(None, None, None)`` is
        yielded after ``inactivity_timeout`` seconds without a message.  The
        generator ends when the broker cancels the consumer or the channel is
        closed by the client, and raises the reason of any other closure.
        Closing the generator cancels the consumer; messages it had buffered
        but not yielded are rejected with requeue (unless ``auto_ack``).
        """
        check_timeout(inactivity_timeout, "inactivity_timeout")
        stream = BoundedBuffer(self._connection._maxsize, self._connection._put_timeout)

        def deliver(_impl: object, method: Any, properties: Any, body: bytes) -> None:
            if stream.closed:  # the generator is gone; its consumer is being cancelled
                if not auto_ack:
                    self._impl.basic_reject(method.delivery_tag, requeue=True)
                return
            self._connection._offer(stream, (method, properties, body))

        args = (queue, auto_ack, exclusive, None, arguments)
        tag: str = self._consume("consume", timeout, deliver, stream, args)
        try:
            while True:
                item = stream.get(inactivity_timeout)
                if item is TIMED_OUT:
                    yield (None, None, None)
                elif item is CLOSED or item is _End.CANCELLED:
                    return
                elif isinstance(item, Reason):
                    if isinstance(item.error, exceptions.ChannelClosedByClient):
                        return
                    item.throw()
                else:
                    yield item
        finally:
            self._stop_stream(tag, stream, auto_ack, timeout)

    def basic_get(
        self, queue: str, auto_ack: bool = False, timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> GetResult | NoMessage:
        """Fetch one message: ``(method, properties, body)`` or ``(None, None, None)``.

        Concurrent calls on one channel are sent one after another.
        """
        if not isinstance(queue, str):
            raise TypeError(f"queue must be a str, got {queue!r}")

        def start(fut: _Future[Any]) -> None:
            self._impl._open_machine()  # ChannelWrongStateError now, not when queued
            self._gets.append((queue, auto_ack, fut))
            self._next_get()

        result: GetResult | NoMessage = self._connection._call("basic_get", timeout, start, self)
        return result

    # -- closing ------------------------------------------------------------------

    def close(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Close the channel, then let its worker finish within the same budget.

        Returns at once if the channel is already closed by the client or is
        closing; raises the reason if it was closed for another reason.
        """
        check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._begin_close(reply_code, reply_text, timeout):
            return
        error = self._connection._wait(self._closed, _left(deadline), "channel close", self, False)
        if error is not None:
            self._connection._rethrow(error, self)
        reason = self._closed.result()
        if not isinstance(reason, exceptions.ChannelClosedByClient):
            self._connection._rethrow(reason, self)
        if not self._worker.is_current_thread():
            self._worker.join(_left(deadline))

    def abort(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Like ``close`` but never raises."""
        try:
            self.close(reply_code, reply_text, timeout)
        except Exception as exc:
            LOGGER.debug("Channel %d abort: %r", self._number, exc)

    # -- internals: user-thread side ---------------------------------------------------

    def _await_recovery(self, what: str) -> None:
        """While recovery has the impl suspended: wait for it (if allowed), else refuse."""
        if self._usable.is_set():
            return
        timeout = self._connection._publish_wait_timeout
        waited = timeout > 0 and not self._connection._on_io_thread()
        if waited:
            self._usable.wait(timeout)
        if self._usable.is_set():
            return  # recovered (or closed: the caller then raises the close reason)
        suffix = f", still after waiting {timeout:g} s" if waited else ""
        raise exceptions.ConnectionRecoveringError(
            f"{what} refused on channel {self._number}: the connection is recovering{suffix}"
        )

    def _check_usable(self) -> None:
        """Raise why the channel cannot be used, if it is closed (any thread)."""
        reason = self._reason
        if reason is None:
            return
        if isinstance(reason.error, exceptions.ChannelClosedByClient):
            raise exceptions.ChannelWrongStateError("Channel is closed.")
        reason.throw()

    def _rpc(self, method: str, timeout: float | None, *args: Any) -> frame.Method[Any]:
        """Call ``impl.<method>(*args, callback=...)`` and wait for the reply frame."""

        def start(fut: _Future[Any]) -> None:
            callback = functools.partial(self._replied, fut)
            self._send(fut, lambda: getattr(self._impl, method)(*args, callback=callback))

        reply: frame.Method[Any] = self._connection._call(method, timeout, start, self)
        return reply

    def _consume(
        self,
        what: str,
        timeout: float | None,
        deliver: Callback,
        stream: BoundedBuffer | None,
        args: tuple[Any, ...],
    ) -> Any:
        """basic_consume on the I/O thread; the result is the consumer tag."""
        queue, auto_ack, exclusive, consumer_tag, arguments = args

        def start(fut: _Future[Any]) -> None:
            def consuming(method_frame: frame.Method[Any]) -> None:
                self._unconfirmed.pop(fut, None)
                self._replied(fut, method_frame.method.consumer_tag)

            tag = self._send(
                fut,
                lambda: self._impl.basic_consume(
                    queue, deliver, auto_ack, exclusive, consumer_tag, arguments, consuming
                ),
            )
            self._unconfirmed[fut] = tag
            if stream is not None:
                self._streams[tag] = stream

        return self._connection._call(what, timeout, start, self)

    def _begin_close(self, reply_code: int, reply_text: str, timeout: float | None) -> bool:
        """Start the close on the I/O thread; False if it is already closed or closing."""
        reason = self._reason
        if reason is not None:
            if isinstance(reason.error, exceptions.ChannelClosedByClient):
                return False
            self._connection._rethrow(reason.error, self)

        def start(fut: _Future[Any]) -> None:
            if self._impl.is_closing or self._impl.is_closed:
                resolve(fut, False)
                return
            self._impl.close(reply_code, reply_text)
            resolve(fut, True)

        started: bool = self._connection._call("channel close", timeout, start, None)
        return started

    def _stop_stream(
        self, tag: str, stream: BoundedBuffer, auto_ack: bool, timeout: float | None
    ) -> None:
        """Cancel a consume() stream's consumer and hand back what it buffered."""
        if self._reason is None and self._connection._reason is None:
            try:
                self.basic_cancel(tag, timeout)
            except exceptions.ConnectionRecoveringError:
                # Recovery will restore this consumer: cancel it once it has.
                with contextlib.suppress(exceptions.AMQPError):
                    self._connection._fire(
                        "consumer cancel", functools.partial(self._cancel_when_usable, tag), self
                    )
            except Exception as exc:
                LOGGER.warning("Cancelling consumer %r on channel %d: %r", tag, self._number, exc)
        unread = [item for item in stream.drain() if isinstance(item, tuple)]
        if not unread:
            return
        if auto_ack:
            LOGGER.warning("consume(): %d auto-acked message(s) dropped unread", len(unread))
            return
        for method, _properties, _body in unread:
            try:
                self.basic_reject(method.delivery_tag, requeue=True)
            except Exception as exc:
                LOGGER.debug("consume(): could not reject buffered message: %r", exc)
                return

    # -- internals: I/O-thread side ------------------------------------------------------

    def _send(self, fut: _Future[Any], request: Callable[[], Any]) -> Any:
        """Make a request whose reply settles ``fut``; a channel close fails it."""
        self._rpcs.add(fut)
        try:
            return request()
        except BaseException:
            self._rpcs.discard(fut)
            raise

    def _read_consumer_tags(self, fut: _Future[Any]) -> None:
        resolve(fut, self._impl.consumer_tags)

    def _replied(self, fut: _Future[Any], value: Any) -> None:
        self._rpcs.discard(fut)
        resolve(fut, value)

    def _next_get(self) -> None:
        """Send the next queued basic_get once the previous one is answered."""
        while self._getter is None and self._gets:
            queue, auto_ack, fut = self._gets.popleft()
            if fut.done():
                continue  # its caller gave up waiting
            getter = _Get(self, fut, auto_ack)
            self._getter = getter
            self._rpcs.add(fut)
            try:
                self._impl.add_callback(getter.empty, [spec.Basic.GetEmpty])
                self._impl.basic_get(queue, getter.got, auto_ack)
            except Exception as exc:
                self._drop_getter()
                self._rpcs.discard(fut)
                fail(fut, exc)

    def _get_answered(self, getter: _Get) -> None:
        if self._getter is getter:
            self._getter = None
            self._next_get()

    def _drop_getter(self) -> None:
        """Forget the basic_get on the wire (its reply will not come)."""
        getter, self._getter = self._getter, None
        if getter is not None:
            self._impl.remove_callback(getter.empty, [spec.Basic.GetEmpty])

    def _on_ack_nack(self, method_frame: frame.Method[Any]) -> None:
        callback = self._ack_nack_callback
        if callback is not None:
            self._connection._offer(self._worker, functools.partial(callback, method_frame))

    def _on_returned(self, _impl: object, method: Any, properties: Any, body: bytes) -> None:
        callbacks = self._return_callbacks
        if not callbacks and not self._confirms:
            LOGGER.warning(
                "Basic.Return dropped (no return callback on channel %d): %r", self._number, method
            )
        for callback in callbacks:
            work = functools.partial(callback, self, method, properties, body)
            self._connection._offer(self._worker, work)

    def _on_cancelled(self, method_frame: frame.Method[Any]) -> None:
        stream = self._streams.pop(method_frame.method.consumer_tag, None)
        if stream is not None:
            stream.put_control(_End.CANCELLED)
        for callback in self._cancel_callbacks:
            self._connection._offer(self._worker, functools.partial(callback, method_frame))

    def _on_recovery(self, error: BaseException | None) -> None:
        """Recovery suspended the impl (``error``: the loss) or resumed it (None)."""
        if error is None:
            self._usable.set()
            self._cancel_abandoned()
            self._discard_if_unclaimed()
            return
        self._usable.clear()
        refused = exceptions.ConnectionRecoveringError(
            f"channel {self._number}: the connection was lost before the reply came and is "
            "recovering; retry the call once it has recovered"
        )
        refused.__cause__ = error
        self._drop_getter()
        unconfirmed, self._unconfirmed = self._unconfirmed, {}
        for tag in unconfirmed.values():
            # Its caller hears the consume failed: it must not come back by itself.
            self._impl._not_restored(tag)
            self._streams.pop(tag, None)
        rpcs, self._rpcs = self._rpcs, set()
        gets, self._gets = list(self._gets), collections.deque()
        opener = [] if self._opener is None else [self._opener]
        for fut in [*rpcs, *(get[2] for get in gets), *opener]:
            fail(fut, refused)
        span = self._confirms.span()  # normally none left: _on_outcome_unknown ran first
        if span is not None:
            unknown = exceptions.PublishOutcomeUnknownError(self._number, *span)
            self._confirms.fail_range(*span, unknown)

    def _on_outcome_unknown(self, error: exceptions.PublishOutcomeUnknownError) -> None:
        # Comes just before the suspension: refuse publishes first, so a thread woken by
        # this failure and republishing at once waits for recovery instead of failing.
        self._usable.clear()
        self._confirms.fail_range(error.first_tag, error.last_tag, error)

    def _cancel_when_usable(self, tag: str) -> None:
        if self._usable.is_set():
            self._impl.basic_cancel(tag)
        else:
            self._cancel_on_resume.add(tag)

    def _cancel_abandoned(self) -> None:
        """Cancel the consumers of consume() generators closed during recovery."""
        tags, self._cancel_on_resume = self._cancel_on_resume, set()
        for tag in sorted(tags):
            self._connection._defer(functools.partial(self._cancel_quietly, tag))

    def _cancel_quietly(self, tag: str) -> None:
        try:
            self._impl.basic_cancel(tag)
        except exceptions.AMQPError as exc:
            LOGGER.warning("Cancelling consumer %r on channel %d: %r", tag, self._number, exc)

    def _discard_if_unclaimed(self) -> None:
        """Recovery re-opened a channel whose opener failed at the drop: nobody has it."""
        if self._opener is None:
            return
        self._opener = None
        self._connection._defer(functools.partial(self._close_unclaimed, self._impl))

    def _close_unclaimed(self, impl: channel_mod.Channel) -> None:
        if impl.is_open:
            impl.close()

    def _on_closed(self, _impl: object, error: BaseException) -> None:
        self._reason = Reason(error)
        self._usable.set()  # wake publishers waiting for recovery: they raise the reason
        rpcs, self._rpcs = self._rpcs, set()
        gets, self._gets = list(self._gets), collections.deque()
        for fut in [*rpcs, *(get[2] for get in gets)]:
            fail(fut, error)
        self._confirms.fail_all(error)
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream.put_control(self._reason)
        resolve(self._closed, error)
        self._worker.close()
        self._connection._channel_closed(self)


class _Get:
    """The two possible answers to one basic_get."""

    __slots__ = ("_auto_ack", "_channel", "_future")

    def __init__(self, channel: Channel, future: _Future[Any], auto_ack: bool) -> None:
        self._channel = channel
        self._future = future
        self._auto_ack = auto_ack

    def got(self, _impl: object, method: Any, properties: Any, body: bytes) -> None:
        channel = self._channel
        channel._impl.remove_callback(self.empty, [spec.Basic.GetEmpty])
        if self._future.done():  # the caller timed out
            if self._auto_ack:
                LOGGER.warning("basic_get answered after its caller gave up: message dropped")
            else:  # give it back rather than hold it unacknowledged
                channel._impl.basic_reject(method.delivery_tag, requeue=True)
        channel._replied(self._future, (method, properties, body))
        channel._get_answered(self)

    def empty(self, _frame: frame.Method[Any]) -> None:
        self._channel._replied(self._future, (None, None, None))
        self._channel._get_answered(self)


def _require_callable(value: object, name: str) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")


def _message_copy(
    body: bytes | str, properties: spec.BasicProperties | None
) -> tuple[bytes, spec.BasicProperties]:
    """Snapshot a message on the caller's thread: it is sent later, from the I/O thread."""
    if isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
    else:
        raise TypeError(f"body must be bytes or str, got {type(body).__name__}")
    if properties is None:
        return data, spec.BasicProperties()
    if not isinstance(properties, spec.BasicProperties):
        raise TypeError(f"properties must be a BasicProperties, got {type(properties).__name__}")
    snapshot = copy.copy(properties)
    if snapshot.headers:
        snapshot.headers = dict(snapshot.headers)
    return data, snapshot


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
