"""The pika exception hierarchy (every error the library raises or reports)."""

from __future__ import annotations

from typing import Any


def _text(value: object) -> str:
    """Coerce a reply text to str; bytes are decoded as UTF-8 with replacement."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


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

    def __repr__(self) -> str:
        if len(self.args) == 2:
            return f"{self.__class__.__name__}: ({self.args[0]}) {self.args[1]}{self._where()}"
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


class ProbableAuthenticationError(AMQPConnectionError):
    """The broker dropped the connection during authentication (bad credentials?)."""

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}: Client was disconnected at a connection stage "
            f"indicating a probable authentication error: {self.args!r}{self._where()}"
        )


class ProbableAccessDeniedError(AMQPConnectionError):
    """The broker dropped the connection while opening the vhost (bad vhost or permissions?)."""

    def __repr__(self) -> str:
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


class AMQPChannelError(AMQPError):
    """Root of channel-level errors."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self.args!r}"


class ChannelWrongStateError(AMQPChannelError):
    """The channel is not in a state that allows the operation."""


class ChannelClosed(AMQPChannelError):
    """The channel closed; ``args == (reply_code, reply_text)``."""

    def __init__(self, reply_code: int, reply_text: str | bytes) -> None:
        super().__init__(int(reply_code), _text(reply_text))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: ({self.reply_code}) {self.reply_text!r}"

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


class ChannelClosedByBroker(ChannelClosed):
    """The broker sent Channel.Close."""


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
