"""Small pieces of the blocking face: reply holders, consumers, timers, errors.

Theory of operation: the blocking face never runs user code while the
select loop is processing frames.  Everything the impl connection reports is
either stored in a holder that a waiting call polls (``Reply``), or appended
as a 4-tuple ``(sink, a, b, c)`` to the connection's ready queue, which the
dispatching calls drain.  A ``Consumer`` sink is special-cased by the
dispatcher (``sink.on_message(sink.channel, a, b, c)``) so that a delivery
costs one append and one call; every other sink is a callable ``sink(a, b, c)``.
"""

from __future__ import annotations

import collections
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pika import exceptions, frame, spec
from pika._message_types import Message
from pika.adapters.utils import connection_workflow as cw
from pika.adapters.utils._workflow_errors import resolution_failure

if TYPE_CHECKING:
    from pika.adapters._blocking_channel import BlockingChannel

LOGGER = logging.getLogger("pika.adapters.blocking_connection")

Entry = tuple[Any, Any, Any, Any]
EventQueue = collections.deque[Entry]

_PENDING = object()


class ReturnedMessage:
    """A message the broker returned or nacked (see UnroutableError and NackError)."""

    __slots__ = ("body", "method", "properties")

    def __init__(self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes):
        self.method = method
        self.properties = properties
        self.body = body

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} method={self.method!r} "
            f"properties={self.properties!r} body=<{len(self.body)} bytes>>"
        )


ReturnedMessage.__module__ = "pika.adapters.blocking_connection"


class Reply:
    """Holds the one value an impl callback delivers; ``done`` once it has."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = _PENDING

    def __call__(self, value: Any) -> None:
        if self.value is _PENDING:
            self.value = value

    @property
    def done(self) -> bool:
        return self.value is not _PENDING


class GetReply:
    """Result of one Basic.Get: the message, or ``empty`` after GetEmpty."""

    __slots__ = ("empty", "message")

    def __init__(self) -> None:
        self.message: tuple[spec.Basic.GetOk, spec.BasicProperties, bytes] | None = None
        self.empty = False

    @property
    def done(self) -> bool:
        return self.empty or self.message is not None

    def on_message(
        self,
        _channel: object,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self.message = (method, properties, body)

    def on_empty(self, _frame: frame.Method[Any]) -> None:
        self.empty = True


class Consumer:
    """A basic_consume consumer: queues each delivery for the dispatcher."""

    __slots__ = ("append", "auto_ack", "channel", "on_message", "tag")

    def __init__(
        self,
        channel: BlockingChannel,
        on_message: Callable[..., Any],
        auto_ack: bool,
        append: Callable[[Entry], None],
    ) -> None:
        self.channel = channel
        self.on_message = on_message
        self.auto_ack = auto_ack
        self.append = append
        self.tag = ""

    def deliver(
        self,
        _impl: object,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """The impl channel's on_message_callback (runs inside frame processing)."""
        self.append((self, method, properties, body))


class GeneratorConsumer:
    """The consume() generator's consumer: buffers deliveries on its own queue.

    ``None`` in ``pending`` marks a broker cancellation (the generator ends there).
    """

    __slots__ = ("auto_ack", "channel", "params", "pending", "tag")

    def __init__(self, channel: BlockingChannel, params: tuple[str, bool, bool]) -> None:
        self.channel = channel
        self.params = params
        self.auto_ack = params[1]
        self.pending: collections.deque[Message | None] = collections.deque()
        self.tag = ""

    def deliver(
        self,
        _impl: object,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """The impl channel's on_message_callback (runs inside frame processing)."""
        self.pending.append((method, properties, body))

    def waiting_count(self) -> int:
        """Buffered messages, not counting a trailing cancellation marker."""
        count = len(self.pending)
        if count and self.pending[-1] is None:
            count -= 1
        return count


class UserTimer:
    """A call_later timer whose callback runs at dispatch time (unless removed)."""

    __slots__ = ("callback", "handle")

    def __init__(self, callback: Callable[[], Any]) -> None:
        self.callback: Callable[[], Any] | None = callback
        self.handle: Any = None

    def fire(self, _a: object, _b: object, _c: object) -> None:
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()

    def __repr__(self) -> str:
        state = "pending" if self.callback is not None else "done"
        return f"<BlockingConnection timer {state}>"


def call_now(callback: Callable[[], Any], _b: object, _c: object) -> None:
    """Sink for a thread-safe callback: just call it."""
    callback()


def owner_of(sink: object) -> object:
    """The BlockingChannel an event sink belongs to (None for connection events)."""
    if type(sink) is Consumer:
        return sink.channel
    return getattr(sink, "__self__", None)


def remove_entries(queue: collections.deque[Any], unwanted: Callable[[Any], bool]) -> list[Any]:
    """Remove and return the entries of ``queue`` matching ``unwanted``, in order."""
    removed = [entry for entry in queue if unwanted(entry)]
    if removed:
        kept = [entry for entry in queue if not unwanted(entry)]
        queue.clear()
        queue.extend(kept)
    return removed


class TimeoutClosedError(exceptions.ConnectionWrongStateError, ValueError):
    """process_data_events(time_limit) on a closed connection.

    pika raised ``ValueError('Timeout closed before call')`` here; being a
    ConnectionWrongStateError too, it is also caught the way the other
    closed-connection errors are.
    """


class HostResolutionError(socket.gaierror, exceptions.AMQPConnectionError):
    """A host name could not be resolved while opening a BlockingConnection.

    pika raised the raw ``socket.gaierror`` here; this is still one, and also an
    AMQPConnectionError, so both kinds of ``except`` clause catch it.
    """

    def __init__(self, *args: Any, host: str | None = None, port: int | None = None) -> None:
        socket.gaierror.__init__(self, *args)
        self.host = host
        self.port = port

    def __str__(self) -> str:
        reason = f"gaierror: {socket.gaierror.__str__(self)}"
        return resolution_failure(reason, self.host, self.port)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self}{self._where()}"


class _LocatedTLSError(ssl.SSLError):
    """Base of the TLS failures a BlockingConnection raises: still the ssl class
    pika raised, with ``host``/``port`` and a message that says what to check."""

    host: str | None = None
    port: int | None = None
    _message = ""

    def __str__(self) -> str:
        return self._message or ssl.SSLError.__str__(self)

    def __repr__(self) -> str:
        where = "" if self.host is None else f" (host={self.host!r}, port={self.port!r})"
        return f"{self.__class__.__name__}: {self}{where}"


class TLSHandshakeError(_LocatedTLSError):
    """The TLS handshake failed (an ``ssl.SSLError``)."""


class TLSCertificateVerificationError(_LocatedTLSError, ssl.SSLCertVerificationError):
    """The broker's certificate could not be verified (an ``ssl.SSLCertVerificationError``)."""


def _located_tls_error(failure: cw.AMQPConnectorPhaseErrorBase, raw: ssl.SSLError) -> BaseException:
    """``raw`` as a located subclass of its own class; other ssl subclasses stay raw."""
    located: _LocatedTLSError
    if type(raw) is ssl.SSLCertVerificationError:
        located = TLSCertificateVerificationError(*raw.args)
    elif type(raw) is ssl.SSLError:
        located = TLSHandshakeError(*raw.args)
    else:
        return raw
    for name in ("library", "reason", "verify_code", "verify_message"):
        if hasattr(raw, name):
            setattr(located, name, getattr(raw, name))
    located.host, located.port, located._message = failure.host, failure.port, str(failure)
    located.__cause__ = raw
    return located


def connect_error(result: BaseException) -> BaseException:
    """The exception BlockingConnection() raises for a failed connection workflow."""
    if not isinstance(result, cw.AMQPConnectionWorkflowFailed) or not result.exceptions:
        return exceptions.AMQPConnectionError(result)
    last = result.exceptions[-1]
    if isinstance(last, cw.AMQPConnectorSocketConnectError):
        return exceptions.AMQPConnectionError(last, host=last.host, port=last.port)
    if isinstance(last, cw.AMQPConnectorTransportSetupError) and isinstance(
        last.exception, ssl.SSLError
    ):
        return _located_tls_error(last, last.exception)
    if isinstance(last, cw.AMQPConnectorPhaseErrorBase):
        return last.exception
    if isinstance(last, socket.gaierror):
        host, port = getattr(result, "host", None), getattr(result, "port", None)
        error = HostResolutionError(*last.args, host=host, port=port)
        error.__cause__ = last
        return error
    return last
