"""The pika exception hierarchy (every error the library raises or reports)."""

from __future__ import annotations

from typing import Any


def _text(value: object) -> str:
    """Coerce a reply text to str; bytes are decoded as UTF-8 with replacement."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _host_port(host: object, port: object) -> str:
    """``host:port`` as users write it (IPv6 literals in brackets)."""
    text = str(host)
    if ":" in text and not text.startswith("["):
        text = f"[{text}]"
    return f"{text}:{port}"


def _describe(error: BaseException) -> str:
    """One line for ``error``: pika's own errors speak for themselves; others get their class."""
    text = str(error)
    if not text:
        return repr(error)
    if type(error).__module__.startswith("pika"):
        return text
    return f"{type(error).__name__}: {text}"


class AMQPError(Exception):
    """Root of every AMQP-level error."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: An unspecified AMQP error has occurred; {self.args}"


class AMQPConnectionError(AMQPError):
    """A connection could not be opened or was lost.

    ``host`` and ``port`` name the broker endpoint when known.
    """

    def __init__(self, *args: Any, host: str | None = None, port: int | None = None) -> None:
        super().__init__(*args)
        self.host = host
        self.port = port

    def _where(self) -> str:
        if self.host is None:
            return ""
        return f" (host={self.host!r}, port={self.port!r})"

    def _endpoint(self) -> str:
        """``host:port`` for messages ('' when pika did not locate the error)."""
        return "" if self.host is None else _host_port(self.host, self.port)

    def _wrapped(self) -> BaseException | None:
        """The error this one wraps as its only argument (e.g. a workflow failure)."""
        if len(self.args) == 1 and isinstance(self.args[0], BaseException):
            return self.args[0]
        return None

    def __str__(self) -> str:
        # The default str of a wrapped workflow error is empty: render the wrapped
        # failure (which names the endpoint and what to check) instead.
        wrapped = self._wrapped()
        if wrapped is None:
            return super().__str__()
        text = _describe(wrapped)
        where = self._endpoint()
        if where and where not in text:
            text = f"{text} (broker {where})"
        return text

    def __repr__(self) -> str:
        if len(self.args) == 2:
            return f"{self.__class__.__name__}: ({self.args[0]}) {self.args[1]}{self._where()}"
        if self._wrapped() is not None:
            return f"{self.__class__.__name__}: {self}{self._where()}"
        return f"{self.__class__.__name__}: {self.args!r}{self._where()}"


class ConnectionOpenAborted(AMQPConnectionError):
    """Client closed the connection while it was still opening."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self.args!r}{self._where()}"


class StreamLostError(AMQPConnectionError):
    """The TCP/TLS stream was lost (EOF, reset, or an error while processing frames)."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self.args!r}{self._where()}"


class IncompatibleProtocolError(AMQPConnectionError):
    """The peer dropped the stream during the protocol-header phase."""

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}: The protocol returned by the server is not supported: "
            f"{self.args!r}{self._where()}"
        )


class AuthenticationError(AMQPConnectionError):
    """No SASL mechanism in common with the broker; ``args[0]`` is the credentials type."""

    def __repr__(self) -> str:
        mechanism = self.args[0] if self.args else "?"
        return (
            f"{self.__class__.__name__}: Server and client could not negotiate use of the "
            f"{mechanism} authentication mechanism{self._where()}"
        )


def _handshake_detail(error: AMQPConnectionError) -> str:
    """What the broker said (or what happened) when a handshake was cut short."""
    cause = error.__cause__
    if isinstance(cause, ConnectionClosed):
        text = f"({cause.reply_code}) {cause.reply_text}"
    elif cause is not None:
        text = _describe(cause)
    else:
        text = str(error.args[0]) if error.args else "no reason given"
    return text.rstrip(". ")  # the caller ends the sentence


def _as_user(username: str | None) -> str:
    return "" if username is None else f" as user {username!r}"


class ProbableAuthenticationError(AMQPConnectionError):
    """The broker dropped the connection during authentication (bad credentials?).

    ``args[0]`` is the repr of the original error (also ``__cause__``). Once pika
    has located the error (``host`` set), ``str`` says where and what to check;
    ``username`` is the login that failed (never the password).
    """

    username: str | None = None

    def __str__(self) -> str:
        if self.host is None:
            return super().__str__()
        return (
            f"The broker at {self._endpoint()} refused the login{_as_user(self.username)}: "
            f"{_handshake_detail(self)}. Check the user name and password of the "
            f"connection's credentials and that this user exists on the broker (the "
            f"broker log says why the login failed)."
        )

    def __repr__(self) -> str:
        if self.host is not None:
            return f"{self.__class__.__name__}: {self}{self._where()}"
        return (
            f"{self.__class__.__name__}: Client was disconnected at a connection stage "
            f"indicating a probable authentication error: {self.args!r}{self._where()}"
        )


class ProbableAccessDeniedError(AMQPConnectionError):
    """The broker dropped the connection while opening the vhost (bad vhost or permissions?).

    Rendered like ProbableAuthenticationError; ``virtual_host`` and ``username``
    name what to check.
    """

    username: str | None = None
    virtual_host: str | None = None

    def __str__(self) -> str:
        if self.host is None:
            return super().__str__()
        vhost = "" if self.virtual_host is None else f" {self.virtual_host!r}"
        return (
            f"The broker at {self._endpoint()} refused access to virtual host{vhost}"
            f"{_as_user(self.username)}: {_handshake_detail(self)}. Check that the virtual "
            f"host exists and that the user has permissions on it (rabbitmqctl list_vhosts; "
            f"rabbitmqctl list_permissions -p <vhost>)."
        )

    def __repr__(self) -> str:
        if self.host is not None:
            return f"{self.__class__.__name__}: {self}{self._where()}"
        return (
            f"{self.__class__.__name__}: Client was disconnected at a connection stage "
            f"indicating a probable denial of access to the specified virtual host: "
            f"{self.args!r}{self._where()}"
        )


class NoFreeChannels(AMQPConnectionError):
    """Every channel number allowed by channel_max is in use."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: The connection has run out of free channels"


class ConnectionWrongStateError(AMQPConnectionError):
    """The operation is not allowed in the connection's current state."""

    def __repr__(self) -> str:
        if self.args:
            return f"{self.__class__.__name__}: {self.args!r}{self._where()}"
        return f"{self.__class__.__name__}: The connection is in wrong state for the requested operation."


class ConnectionClosed(AMQPConnectionError):
    """The connection closed; ``args == (reply_code, reply_text)``."""

    def __init__(
        self,
        reply_code: int,
        reply_text: str | bytes,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(int(reply_code), _text(reply_text), host=host, port=port)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: ({self.reply_code}) {self.reply_text!r}{self._where()}"

    @property
    def reply_code(self) -> int:
        """AMQP reply code of the close."""
        code: int = self.args[0]
        return code

    @property
    def reply_text(self) -> str:
        """AMQP reply text of the close."""
        text: str = self.args[1]
        return text


class ConnectionClosedByBroker(ConnectionClosed):
    """The broker sent Connection.Close."""


class ConnectionClosedByClient(ConnectionClosed):
    """The client's own close() completed."""


class ConnectionBlockedTimeout(AMQPConnectionError):
    """The broker kept the connection blocked longer than blocked_connection_timeout."""


class AMQPHeartbeatTimeout(AMQPConnectionError):
    """Nothing was received from the broker within the heartbeat window."""


class WorkQueueFullError(AMQPConnectionError):
    """Thread-safe connection: a worker queue stayed full longer than allowed."""


class ConnectionRecoveringError(AMQPConnectionError):
    """The connection is being recovered: a publish was refused instead of queued.

    Raised only when automatic recovery is enabled; retry once the connection
    has recovered, or set a publish wait timeout in the recovery policy.
    """


class AMQPChannelError(AMQPError):
    """Root of channel-level errors."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self.args!r}"


class ChannelWrongStateError(AMQPChannelError):
    """The channel is not in a state that allows the operation."""


class ChannelClosed(AMQPChannelError):
    """The channel closed; ``args == (reply_code, reply_text)``.

    ``str`` stays the default (the args tuple). pika sets ``channel_number``,
    ``host`` and ``port`` when it reports a broker close; ``repr`` then names them.
    """

    channel_number: int | None = None
    host: str | None = None
    port: int | None = None

    def __init__(self, reply_code: int, reply_text: str | bytes) -> None:
        super().__init__(int(reply_code), _text(reply_text))

    def _where(self) -> str:
        parts = []
        if self.channel_number is not None:
            parts.append(f"channel={self.channel_number}")
        if self.host is not None:
            parts.append(f"host={self.host!r}, port={self.port!r}")
        return f" ({', '.join(parts)})" if parts else ""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: ({self.reply_code}) {self.reply_text!r}{self._where()}"

    @property
    def reply_code(self) -> int:
        """AMQP reply code of the close."""
        code: int = self.args[0]
        return code

    @property
    def reply_text(self) -> str:
        """AMQP reply text of the close."""
        text: str = self.args[1]
        return text


#: What to check for the channel-close reply codes users meet most.
_CHANNEL_CLOSE_HINTS = {
    403: "check the user's permissions on this virtual host (rabbitmqctl list_permissions)",
    404: "check the name, and that the queue or exchange was declared before use",
    405: "another connection holds this exclusive queue or exclusive consumer",
    406: "a redeclare must use the same type, durable, auto_delete and arguments as "
    "the existing entity; an ack must use a delivery tag not yet settled on this channel",
}


class ChannelClosedByBroker(ChannelClosed):
    """The broker sent Channel.Close."""

    def __repr__(self) -> str:
        hint = _CHANNEL_CLOSE_HINTS.get(self.reply_code)
        return super().__repr__() + ("" if hint is None else f"; {hint}")


class ChannelClosedByClient(ChannelClosed):
    """The client's own channel close completed."""


class DuplicateConsumerTag(AMQPChannelError):
    """The consumer tag is already in use on this channel; ``args[0]`` is the tag."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: The consumer tag specified already exists for this channel: {self.args[0]}"


class ConsumerCancelled(AMQPChannelError):
    """The consumer was cancelled (Twisted adapter queues)."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: Server cancelled consumer"


class UnroutableError(AMQPChannelError):
    """Confirmed publishes came back with Basic.Return; ``messages`` holds them."""

    def __init__(self, messages: list[Any]) -> None:
        super().__init__(f"{len(messages)} unroutable message(s) returned")
        self.messages = messages

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {len(self.messages)} unroutable messages returned by broker"


class NackError(AMQPChannelError):
    """The broker nacked confirmed publishes; ``messages`` holds them."""

    def __init__(self, messages: list[Any]) -> None:
        super().__init__(f"{len(messages)} message(s) NACKed")
        self.messages = messages

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {len(self.messages)} messages NACKed by broker"


class PublishOutcomeUnknownError(AMQPChannelError):
    """A confirmed publish was unsettled when the connection dropped.

    The broker may or may not have the message: republish it if duplicates
    are acceptable.  Distinct from NackError, where the broker refused it.
    ``first_tag`` and ``last_tag`` are the inclusive publish sequence numbers.
    """

    def __init__(self, channel_number: int, first_tag: int, last_tag: int) -> None:
        super().__init__(
            f"outcome of publishes {first_tag}..{last_tag} on channel {channel_number} is "
            f"unknown: the connection dropped before the broker confirmed them"
        )
        self.channel_number = channel_number
        self.first_tag = first_tag
        self.last_tag = last_tag


class InvalidChannelNumber(AMQPError):
    """A channel number that is not an int was given."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: An invalid channel number has been specified: {self.args[0]}"


class ProtocolSyntaxError(AMQPError):
    """The peer sent bytes that do not follow the protocol."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: An unspecified protocol syntax error occurred"


class UnexpectedFrameError(ProtocolSyntaxError):
    """A frame arrived that is not valid in the current state."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: Received a frame out of sequence: {self.args[0]!r}"


class ProtocolVersionMismatch(ProtocolSyntaxError):
    """The broker speaks another AMQP version."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: Protocol versions did not match: {self.args!r}"


class BodyTooLongError(ProtocolSyntaxError):
    """More body bytes arrived than the content header declared; args = (received, expected)."""

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}: Received too many bytes for a message delivery: "
            f"Received {self.args[0]}, expected {self.args[1]}"
        )


class InvalidFrameError(ProtocolSyntaxError):
    """Bad frame-end octet, unknown frame type or oversize frame."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: Invalid frame received: {self.args[0]!r}"


class InvalidFieldTypeException(ProtocolSyntaxError):
    """Unknown field-table type tag while decoding; ``args[0]`` is the tag."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: Unsupported field kind {self.args[0]!r}"


class UnsupportedAMQPFieldException(ProtocolSyntaxError):
    """A Python value that has no AMQP field-table encoding; args = (pieces, value)."""

    def __repr__(self) -> str:
        value = self.args[1] if len(self.args) > 1 else None
        return f"{self.__class__.__name__}: Unsupported field kind {type(value)!r}"


class MethodNotImplemented(AMQPError):
    """The broker does not support the requested method or extension."""


class ShortStringTooLong(AMQPError):
    """A short string is over 255 UTF-8 bytes; ``args[0]`` is the encoded value."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: AMQP Short String can contain up to 255 bytes: {self.args[0]!r:.300}"


class ChannelError(Exception):
    """Root of the pre-1.0 channel errors still raised for compatibility."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: An unspecified error occurred with the Channel"


class DuplicateGetOkCallback(ChannelError):
    """basic_get was called while an earlier basic_get is unanswered."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: basic_get can only be called again after the callback for the previous basic_get is executed"


class ReentrancyError(Exception):
    """BlockingChannel.start_consuming was called from inside a dispatched callback."""
