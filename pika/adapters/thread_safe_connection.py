"""A connection that any number of threads can share: ``pika.Connection``.

How it works.  A ``SelectConnection`` runs on its own ``IOLoop`` on a daemon
thread named ``pika-ioloop-N``; that I/O thread only does protocol work.  Every
call from a user thread becomes a closure queued with
``ioloop.add_callback_threadsafe`` (which wakes the poller).  Blocking calls
then wait on a per-call ``concurrent.futures.Future`` with a timeout (builtin
``TimeoutError``).  User callbacks never run on the I/O thread: deliveries,
returns, cancels and Ack/Nack callbacks go to the channel's worker thread
(``pika-consumer``, one per channel, in order) and blocked/unblocked callbacks
to the connection's worker (``pika-conn-N``).  Exceptions from user callbacks
are logged and contained.  Only ``on_open_error_callback`` and
``on_close_callback`` run on the I/O thread, with the underlying
SelectConnection, as in upstream pika.

Heartbeats never lapse because of user code: the I/O thread keeps running the
engine's heartbeat timer while callbacks run for minutes on workers and while
user threads are idle.  The one thing that stops the I/O thread is
back-pressure: a worker queue that is full (``work_queue_maxsize``) makes the
I/O thread wait, so it stops reading from the socket; after
``work_queue_put_timeout`` seconds the connection is torn down with
``WorkQueueFullError``.  While it waits, no heartbeat goes out and a blocking
call made from a callback waits too (up to its own timeout).  Keep
``basic_qos(prefetch_count=...)`` below ``work_queue_maxsize`` and this never
happens.

Publisher confirms you can wait on.  ``basic_publish`` returns None, as in
pika; with confirms on, ``on_publish(delivery_tag)`` reports the tag it got.
``Channel.publish_with_confirm(...)`` returns a ``concurrent.futures.Future``
that resolves with the Basic.Ack frame, or fails with ``UnroutableError`` (a
mandatory message was returned), ``NackError``, or, when the channel or
connection closed before the broker answered, with that close reason: the
outcome is then unknown and the message may or may not have been routed.

Automatic recovery (``ConnectionParameters(recovery=...)``).  A recovered loss
closes nothing here: the Connection, its Channels, their workers and their
consumers (callbacks and ``consume()`` streams) carry on once the impl has
reconnected and replayed the topology.  While it recovers, ``is_recovering``
is True, calls waiting for a reply fail with ConnectionRecoveringError,
``publish_with_confirm`` futures unsettled at the drop fail with
PublishOutcomeUnknownError (republish if duplicates are acceptable), and
publishes raise ConnectionRecoveringError at once, unless the policy's
``publish_wait_timeout`` lets the publishing thread wait for recovery and
try once more.  ``add_on_recovery_callback`` callbacks run on the
``pika-conn`` worker.  Heartbeats are unaffected: the I/O thread runs the
whole recovery.  When recovery gives up, or the application closes, the
connection ends as without recovery (close reason recorded, calls failed).
A WorkQueueFullError is never recovered: reconnecting cannot speed callbacks up.

Beyond upstream: ``Channel.consume()`` generator, ``tx_select``/``tx_commit``/
``tx_rollback``, ``basic_recover``, ``Connection.update_secret`` and
``publish_with_confirm``.  ``basic_get`` calls from several threads on one
channel are queued instead of failing with DuplicateGetOkCallback.

Shared state and what guards it:

* ``Connection._lock`` guards ``_reason`` (the recorded close reason), the set
  ``_pending`` of unsettled futures, the worker list ``_workers`` and the
  blocked/unblocked/recovery callback tuples.  A call is queued to the loop while
  holding it, and the reason is recorded under it, so no call is queued after
  the close: once the reason is set, every public method raises it.  Fast
  paths read ``_reason`` without the lock (a reference read is atomic).
* ``Connection._doomed`` and ``Channel._reason`` are written only on the I/O
  thread (the latter before any future it fails is settled); other threads
  only read them.
* The IOLoop's thread-safe callback deque carries every command to the I/O
  thread, FIFO.  The loop is stopped by a callback queued after the reason was
  recorded, so every command queued before it still runs (and fails cleanly).
* Each ``BoundedBuffer``/``WorkQueue`` has its own condition variable guarding
  its deque; the I/O thread is the only producer.
* ``Channel._lock`` guards the channel's user callback tuples.
* ``is_open``, ``is_closed`` and ``is_recovering`` read the impl's state from
  any thread: single attribute reads, a snapshot that may be stale at once.
* Everything else (the SelectConnection and its channels, ``_channels``,
  ``_secret_updates``, per-channel RPC futures, pending gets, confirm waiters,
  consume streams) is touched only on the I/O thread.
* ``concurrent.futures.Future`` objects carry results between threads with
  their own locks; settling them is idempotent (see _threadsafe_calls).
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn, Protocol, TypeVar

from pika import connection as connection_mod
from pika import exceptions, frame
from pika import recovery as recovery_mod
from pika.adapters._threadsafe_calls import (
    Reason,
    check_maxsize,
    check_optional_callback,
    check_put_timeout,
    check_timeout,
    fail,
    resolve,
    wait_settled,
)
from pika.adapters._threadsafe_channel import Channel
from pika.adapters._threadsafe_confirms import ReturnedMessage
from pika.adapters._threadsafe_queue import PutResult, WorkQueue
from pika.adapters._threadsafe_rpcs import DEFAULT_RPC_TIMEOUT
from pika.adapters.select_connection import IOLoop, SelectConnection

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_WORK_QUEUE_MAXSIZE",
    "DEFAULT_WORK_QUEUE_PUT_TIMEOUT",
    "Channel",
    "Connection",
    "ReturnedMessage",
]

LOGGER = logging.getLogger(__name__)

DEFAULT_WORK_QUEUE_MAXSIZE = 1000
DEFAULT_WORK_QUEUE_PUT_TIMEOUT = 30.0

Channel.__module__ = __name__
ReturnedMessage.__module__ = __name__

Callback = Callable[..., Any]
_T = TypeVar("_T")
_Future = concurrent.futures.Future
_COUNTER = itertools.count(1)
_FORCED = "connection force-closed: broker did not respond to close"
_OPEN_JOIN_BUDGET = 5.0


class _Buffer(Protocol):
    name: str

    def put(self, item: Any) -> PutResult: ...


class Connection:
    """An AMQP connection whose methods, and channels, any thread may call."""

    def __init__(
        self,
        parameters: connection_mod.Parameters,
        on_open_error_callback: Callback | None = None,
        on_close_callback: Callback | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
        work_queue_maxsize: int = DEFAULT_WORK_QUEUE_MAXSIZE,
        work_queue_put_timeout: float = DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
    ) -> None:
        """Connect and block until open; raise the open error or TimeoutError."""
        check_optional_callback(on_open_error_callback, "on_open_error_callback")
        check_optional_callback(on_close_callback, "on_close_callback")
        check_timeout(timeout)
        self._maxsize = check_maxsize(work_queue_maxsize)
        self._put_timeout = check_put_timeout(work_queue_put_timeout)
        self._number = next(_COUNTER)
        self._lock = threading.Lock()
        self._reason: Reason | None = None
        self._pending: set[_Future[Any]] = set()
        self._blocked_callbacks: tuple[Callback, ...] = ()
        self._unblocked_callbacks: tuple[Callback, ...] = ()
        self._recovery_callbacks: tuple[Callback, ...] = ()
        self._secret_updates: set[_Future[Any]] = set()
        self._user_on_open_error = on_open_error_callback
        self._user_on_close = on_close_callback
        self._conn_worker = WorkQueue(f"pika-conn-{self._number}", self._maxsize, self._put_timeout)
        self._workers: list[WorkQueue] = [self._conn_worker]
        self._channels: dict[int, Channel] = {}
        self._doomed = False
        self._opened: _Future[None] = concurrent.futures.Future()
        self._loop = IOLoop()
        self._impl = self._create_impl(parameters)
        policy = self._impl.params.recovery
        self._publish_wait_timeout = 0.0 if policy is None else float(policy.publish_wait_timeout)
        self._thread = threading.Thread(
            target=self._run_loop, name=f"pika-ioloop-{self._number}", daemon=True
        )
        self._thread.start()
        self._await_open(timeout)

    def __repr__(self) -> str:
        if self._reason is not None:
            state = "CLOSED"
        elif self._impl.is_recovering:
            state = "RECOVERING"
        else:
            state = self._impl._STATE_NAMES.get(self._impl.connection_state, "?")
        params = self._impl.params
        return f"<{type(self).__name__} {state} {params.host}:{params.port}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- properties -------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the connection is open."""
        return self._reason is None and self._impl.is_open

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return self._reason is not None or self._impl.is_closed

    @property
    def is_recovering(self) -> bool:
        """True while automatic recovery re-establishes a lost connection."""
        return self._reason is None and self._impl.is_recovering

    @property
    def params(self) -> connection_mod.Parameters:
        """The connection's private copy of its parameters (after negotiation)."""
        return self._impl.params

    @property
    def server_properties(self) -> dict[str, Any] | None:
        """The broker's Connection.Start properties."""
        return self._impl.server_properties

    # -- public methods ---------------------------------------------------

    def channel(
        self, timeout: float | None = DEFAULT_RPC_TIMEOUT, *, channel_number: int | None = None
    ) -> Channel:
        """Open a channel and return it once the broker confirmed it."""

        def start(fut: _Future[Any]) -> None:
            holder: list[Channel] = []

            def opened(impl_channel: Any) -> None:
                holder[0]._opener = None
                if fut.done():  # our caller timed out: nobody will use this channel
                    impl_channel.close()
                    return
                resolve(fut, holder[0])

            self._refuse_while_recovering("channel()")
            impl_channel = self._impl.channel(channel_number, on_open_callback=opened)
            channel = Channel(self, impl_channel)
            channel._opener = fut
            holder.append(channel)
            self._channels[channel.channel_number] = channel
            self._add_worker(channel._worker)
            channel._closed.add_done_callback(functools.partial(_fail_if_unopened, fut))

        result: Channel = self._call("channel", timeout, start)
        return result

    def update_secret(
        self, new_secret: str, reason: str, timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method[Any]:
        """Replace the connection's secret (RabbitMQ); returns the UpdateSecretOk frame."""

        def start(fut: _Future[Any]) -> None:
            self._refuse_while_recovering("update_secret()")
            self._impl.update_secret(
                new_secret, reason, functools.partial(self._secret_updated, fut)
            )
            self._secret_updates = {f for f in self._secret_updates if not f.done()} | {fut}

        result: frame.Method[Any] = self._call("update_secret", timeout, start)
        return result

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the I/O thread (keep it short: it blocks all I/O)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        work = functools.partial(_run_contained, callback, "add_callback_threadsafe callback")
        if self._on_io_thread():
            self._loop.add_callback_threadsafe(work)
        else:
            self._submit(work)

    def add_on_connection_blocked_callback(self, callback: Callback) -> None:
        """``callback(connection, frame)`` on Connection.Blocked, on the ``pika-conn`` worker."""
        check_optional_callback(callback, "callback")
        with self._lock:
            self._blocked_callbacks += (callback,)

    def add_on_connection_unblocked_callback(self, callback: Callback) -> None:
        """``callback(connection, frame)`` on Connection.Unblocked, on the ``pika-conn`` worker."""
        check_optional_callback(callback, "callback")
        with self._lock:
            self._unblocked_callbacks += (callback,)

    def add_on_recovery_callback(self, callback: Callback) -> None:
        """``callback(connection, event)`` per ``pika.recovery`` event, on the ``pika-conn`` worker.

        Needs recovery enabled in the connection parameters.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        if self._impl.params.recovery is None:
            raise exceptions.ConnectionWrongStateError(
                "add_on_recovery_callback needs recovery enabled in the connection parameters"
            )
        with self._lock:
            self._recovery_callbacks += (callback,)

    def close(self, timeout: float | None = DEFAULT_RPC_TIMEOUT) -> None:
        """Close gracefully and join the I/O thread and workers within ``timeout``.

        No-op on a closed connection.  From the I/O thread it only starts the
        close.  If the broker does not answer in time the loop is stopped and
        every waiting call fails.
        """
        check_timeout(timeout)
        if self._on_io_thread():
            self._start_close()
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            already_closed = self._reason is not None
            if not already_closed:
                self._loop.add_callback_threadsafe(self._start_close)
        if already_closed:
            self._thread.join(timeout)  # normally finished already: the loop stops at close
            return
        if not self._stop_io_thread(timeout):
            LOGGER.warning("%r: I/O thread did not stop; abandoning it", self)
        self._join_workers(deadline)

    def abort(self, timeout: float | None = DEFAULT_RPC_TIMEOUT) -> None:
        """Like ``close`` but never raises."""
        try:
            self.close(timeout)
        except Exception as exc:
            LOGGER.debug("%r: abort: %r", self, exc)

    # -- marshalling (used by Channel) ------------------------------------------

    def _on_io_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _track(self, future: _Future[_T]) -> _Future[_T]:
        """Register ``future`` to be failed if the connection dies before it settles."""
        with self._lock:
            reason = self._reason
            if reason is None:
                self._pending.add(future)
        if reason is not None:
            fail(future, reason.error)  # outside the lock: done-callbacks may run here
            return future
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: _Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _submit(self, work: Callable[[], Any], future: _Future[Any] | None = None) -> None:
        """Queue ``work`` for the I/O thread; raise the close reason if closed."""
        with self._lock:
            reason = self._reason
            if reason is None:
                if future is not None:
                    self._pending.add(future)
                self._loop.add_callback_threadsafe(work)
        if reason is not None:
            if future is not None:
                future.cancel()
            reason.throw()
        if future is not None:
            future.add_done_callback(self._forget)

    def _start(
        self, start: Callable[[_Future[Any]], None], channel: Channel | None, future: _Future[_T]
    ) -> _Future[_T]:
        """Run ``start(future)`` on the I/O thread; the I/O thread settles the future."""
        self._check_usable(channel)
        run = functools.partial(self._run_start, start, future, channel)
        if self._on_io_thread():
            self._track(future)
            run()
        else:
            self._submit(run, future)
        return future

    def _call(
        self,
        what: str,
        timeout: float | None,
        start: Callable[[_Future[Any]], None],
        channel: Channel | None = None,
    ) -> Any:
        """``_start`` then wait for the outcome: a blocking call."""
        check_timeout(timeout)
        if self._on_io_thread():
            raise RuntimeError(f"{what}() would block the connection's own I/O thread")
        future: _Future[Any] = self._start(start, channel, concurrent.futures.Future())
        error = self._wait(future, timeout, what, channel)
        if error is not None:
            self._rethrow(error, channel)
        return future.result()

    def _wait(
        self,
        future: _Future[Any],
        timeout: float | None,
        what: str,
        channel: Channel | None,
        cancel: bool = True,
    ) -> BaseException | None:
        params = self._impl.params
        where = f"{params.host}:{params.port}"
        if channel is not None:
            where = f"channel {channel.channel_number} on {where}"
        return wait_settled(future, timeout, what, cancel=cancel, where=where)

    def _rethrow(self, error: BaseException, channel: Channel | None) -> NoReturn:
        """Raise ``error``; a recorded close reason keeps its recorded traceback."""
        for reason in (self._reason, channel._reason if channel is not None else None):
            if reason is not None and reason.error is error:
                reason.throw()
        raise error

    def _fire(self, what: str, operation: Callable[[], Any], channel: Channel) -> None:
        """Run ``operation()`` on the I/O thread without waiting; failures are logged."""
        self._check_usable(channel)
        work = functools.partial(self._run_fired, what, operation, channel)
        if self._on_io_thread():
            work()
        else:
            self._submit(work)

    def _defer(self, work: Callable[[], Any]) -> None:
        """Run ``work()`` on the I/O thread after what it is doing now; failures are logged."""
        self._loop.add_callback_threadsafe(functools.partial(_run_contained, work, repr(work)))

    def _check_usable(self, channel: Channel | None) -> None:
        reason = self._reason
        if reason is not None:
            reason.throw()
        if channel is not None:
            channel._check_usable()

    # -- I/O thread ---------------------------------------------------------------

    def _run_start(
        self, start: Callable[[_Future[Any]], None], future: _Future[Any], channel: Channel | None
    ) -> None:
        if future.done():
            return  # the caller gave up waiting
        try:
            self._check_usable(channel)
            start(future)
        except Exception as exc:
            fail(future, exc)

    def _run_fired(self, what: str, operation: Callable[[], Any], channel: Channel) -> None:
        try:
            self._check_usable(channel)
            operation()
        except Exception as exc:
            LOGGER.warning("%s on channel %d failed: %r", what, channel.channel_number, exc)

    def _refuse_while_recovering(self, what: str) -> None:
        if self._impl.is_recovering:
            params = self._impl.params
            raise exceptions.ConnectionRecoveringError(
                f"{what} refused: the connection to {params.host}:{params.port} is recovering"
            )

    def _secret_updated(self, future: _Future[Any], method_frame: frame.Method[Any]) -> None:
        self._secret_updates.discard(future)
        resolve(future, method_frame)

    def _on_recovery_event(self, _impl: SelectConnection, event: Any) -> None:
        if isinstance(event, recovery_mod.RecoveryStarted):
            self._fail_secret_updates(event.error)
        for callback in self._recovery_callbacks:
            self._offer(self._conn_worker, functools.partial(callback, self, event))

    def _fail_secret_updates(self, error: BaseException | None) -> None:
        """The connection dropped: UpdateSecretOk will never come."""
        waiting, self._secret_updates = self._secret_updates, set()
        refused = exceptions.ConnectionRecoveringError(
            "update_secret: the connection was lost before the reply came and is recovering"
        )
        refused.__cause__ = error
        for future in waiting:
            fail(future, refused)

    def _offer(self, buffer: _Buffer, item: Any) -> None:
        """Hand ``item`` to a worker or stream; tear down if it stays full."""
        if self._doomed:
            return
        result = buffer.put(item)
        if result is PutResult.FULL:
            self._on_queue_full(buffer.name)
        elif result is PutResult.CLOSED:
            LOGGER.debug("%r: item for a closed queue dropped", self)

    def _on_queue_full(self, name: str) -> None:
        if self._doomed:
            return
        self._doomed = True
        params = self._impl.params
        error = exceptions.WorkQueueFullError(
            f"The {name} work queue stayed full for {self._put_timeout} s "
            f"(work_queue_maxsize={self._maxsize}): callbacks are not keeping up; "
            "lower basic_qos prefetch_count or raise work_queue_maxsize",
            host=params.host,
            port=params.port,
        )
        LOGGER.error("%r: %s", self, error)
        try:
            # recover=False: reconnecting would not make the callbacks faster.
            self._impl._abort(error, recover=False)
        except Exception:
            LOGGER.exception("%r: could not abort the connection", self)

    def _channel_closed(self, channel: Channel) -> None:
        if self._channels.get(channel.channel_number) is channel:
            del self._channels[channel.channel_number]
        with self._lock:
            if channel._worker in self._workers:
                self._workers.remove(channel._worker)

    def _add_worker(self, worker: WorkQueue) -> None:
        with self._lock:
            self._workers.append(worker)

    def _start_close(self) -> None:
        impl = self._impl
        if impl.is_closing or impl.is_closed:
            return
        try:
            impl.close()
        except Exception:
            LOGGER.exception("%r: close failed", self)

    def _create_impl(self, parameters: connection_mod.Parameters) -> SelectConnection:
        try:
            impl = SelectConnection(
                parameters,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_close,
                custom_ioloop=self._loop,
            )
        except BaseException:
            self._loop.close()
            raise
        impl.add_on_connection_blocked_callback(self._on_blocked)
        impl.add_on_connection_unblocked_callback(self._on_unblocked)
        if impl.params.recovery is not None:
            impl.add_on_recovery_callback(self._on_recovery_event)
        return impl

    def _on_open(self, _impl: SelectConnection) -> None:
        resolve(self._opened, None)

    def _on_open_error(self, impl: SelectConnection, error: BaseException) -> None:
        self._terminate(error)
        fail(self._opened, error)
        if self._user_on_open_error is not None:
            _run_contained(
                functools.partial(self._user_on_open_error, impl, error), "on_open_error_callback"
            )

    def _on_close(self, impl: SelectConnection, error: BaseException) -> None:
        self._terminate(error)
        if self._user_on_close is not None:
            _run_contained(functools.partial(self._user_on_close, impl, error), "on_close_callback")

    def _on_blocked(self, _impl: SelectConnection, method_frame: frame.Method[Any]) -> None:
        for callback in self._blocked_callbacks:
            self._offer(self._conn_worker, functools.partial(callback, self, method_frame))

    def _on_unblocked(self, _impl: SelectConnection, method_frame: frame.Method[Any]) -> None:
        for callback in self._unblocked_callbacks:
            self._offer(self._conn_worker, functools.partial(callback, self, method_frame))

    def _terminate(self, error: BaseException) -> None:
        """Record the close reason, fail every waiting call, stop the loop after the queue."""
        pending = self._record(error)
        for future in pending:
            fail(future, error)
        self._conn_worker.close()
        self._loop.add_callback_threadsafe(self._loop.stop)

    def _record(self, error: BaseException) -> list[_Future[Any]]:
        with self._lock:
            if self._reason is None:
                self._reason = Reason(error)
            pending = list(self._pending)
            self._pending.clear()
        return pending

    def _run_loop(self) -> None:
        failures = 0
        try:
            while failures < 3:
                try:
                    self._loop.start()
                    return
                except Exception as exc:  # a timer or callback below us failed
                    failures += 1
                    LOGGER.exception("%r: unexpected error on the I/O thread", self)
                    self._abort_after_loop_error(exc)
        finally:
            self._after_loop()

    def _abort_after_loop_error(self, exc: Exception) -> None:
        if self._reason is not None or self._impl.is_closed:
            return
        params = self._impl.params
        error = exceptions.StreamLostError(
            f"Stream connection lost: {exc!r}", host=params.host, port=params.port
        )
        error.__cause__ = exc
        try:
            self._impl._abort(error)
        except Exception:
            LOGGER.exception("%r: could not abort the connection", self)

    def _after_loop(self) -> None:
        """The loop is done; if the connection is not, it was abandoned: clean up."""
        if self._reason is None:
            self._force_closed()
        if not self._impl.is_closed:  # force-closed: drop the socket the loop no longer serves
            transport = getattr(self._impl, "_transport", None)
            if transport is not None:
                _run_contained(transport.abort, "transport abort")
        try:
            self._loop.close()
        except Exception:
            LOGGER.exception("%r: closing the I/O loop failed", self)

    def _force_closed(self) -> None:
        params = self._impl.params
        forced = exceptions.AMQPConnectionError(_FORCED, host=params.host, port=params.port)
        pending = self._record(forced)
        error = self._reason.error if self._reason is not None else forced
        for future in pending:
            fail(future, error)
        self._conn_worker.close()
        fail(self._opened, error)

    # -- open/close helpers (user thread) ------------------------------------------

    def _await_open(self, timeout: float | None) -> None:
        try:
            error = wait_settled(self._opened, timeout, "opening the connection", cancel=False)
        except TimeoutError:
            with self._lock:
                if self._reason is None:
                    self._loop.add_callback_threadsafe(self._start_close)
            self._stop_io_thread(_OPEN_JOIN_BUDGET)
            params = self._impl.params
            raise TimeoutError(
                f"Connection to {params.host}:{params.port} did not open within {timeout} s"
            ) from None
        if error is not None:
            self._thread.join(_OPEN_JOIN_BUDGET)
            self._rethrow(error, None)

    def _stop_io_thread(self, timeout: float | None) -> bool:
        """Join the I/O thread; past ``timeout``, stop its loop and join again."""
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        LOGGER.warning("%r: no answer to close within %s s; stopping the loop", self, timeout)
        self._loop.add_callback_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if self._reason is None or self._thread.is_alive():
            self._force_closed()
        return not self._thread.is_alive()

    def _join_workers(self, deadline: float | None) -> None:
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.close()
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not worker.join(left):
                LOGGER.debug("%r: %r still busy after close", self, worker)


def _fail_if_unopened(opening: _Future[Any], closed: _Future[BaseException]) -> None:
    """A channel closed before OpenOk: its opener gets the reason."""
    if not closed.cancelled() and closed.exception() is None:
        fail(opening, closed.result())


def _run_contained(callback: Callable[[], Any], what: str) -> None:
    try:
        callback()
    except Exception:
        LOGGER.exception("%s raised (ignored)", what)
