"""The exception a connection reports when it ends, and where it happened.

Every connection error carries the broker's host and port.  A stream lost or
a broker close while the connection was still opening is made more specific,
as pika does: during the protocol header it is an IncompatibleProtocolError,
during Start an authentication problem, during Tune a vhost/permission
problem; those name the user and vhost to check (never the password).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pika import exceptions

from .handshake import HandshakeConfig
from .states import ConnectionState

if TYPE_CHECKING:
    from .channel import ChannelMachine

_STATE_ERRORS: dict[ConnectionState, Callable[[str], exceptions.AMQPConnectionError]] = {
    ConnectionState.PROTOCOL: exceptions.IncompatibleProtocolError,
    ConnectionState.START: exceptions.ProbableAuthenticationError,
    ConnectionState.TUNE: exceptions.ProbableAccessDeniedError,
}


class CloseReasons:
    """Builds and locates the errors of one connection."""

    __slots__ = ("_config", "_username")

    def __init__(self, config: HandshakeConfig) -> None:
        self._config = config
        self._username: str | None = getattr(config.credentials, "username", None)

    def locate(self, error: Exception) -> Exception:
        """Stamp the broker's host and port on a connection error that lacks them."""
        if isinstance(error, exceptions.AMQPConnectionError) and error.host is None:
            error.host = self._config.host
            error.port = self._config.port
        return error

    def locate_channel_close(self, channel: ChannelMachine) -> None:
        """Stamp channel number, host and port on a channel's close reason."""
        reason = channel.close_reason
        if isinstance(reason, exceptions.ChannelClosed) and reason.host is None:
            reason.channel_number = channel.number
            reason.host, reason.port = self._config.host, self._config.port

    def heartbeat_timeout(self, interval: int) -> Exception:
        """The error for a silent peer."""
        # pika's wording first (users match on it), then where and what to check.
        text = (
            f"No activity or too many missed heartbeats in the last {interval} seconds "
            f"from the broker{self._at_endpoint()}; check the network path to the broker, "
            f"and that the application lets the connection do I/O at least every "
            f"{interval} seconds (a callback or a blocked thread that runs longer starves "
            f"the heartbeats)"
        )
        return self.locate(exceptions.AMQPHeartbeatTimeout(text))

    def final(
        self,
        recorded: Exception | None,
        lost: Exception | None,
        state: ConnectionState,
        was_open: bool,
    ) -> Exception:
        """What the connection reports once its stream is gone."""
        reason = recorded or lost or exceptions.StreamLostError("Transport indicated EOF")
        if was_open or isinstance(reason, exceptions.ConnectionOpenAborted):
            return self.locate(reason)
        wrap = _STATE_ERRORS.get(state)
        if wrap is not None and isinstance(
            reason, (exceptions.StreamLostError, exceptions.ConnectionClosedByBroker)
        ):
            wrapped = wrap(repr(reason))
            wrapped.__cause__ = reason
            self._name_login(wrapped)
            return self.locate(wrapped)
        return self.locate(reason)

    def _name_login(self, error: exceptions.AMQPConnectionError) -> None:
        """Let a probable auth/vhost error name what to check (never the password)."""
        if isinstance(error, exceptions.ProbableAccessDeniedError):
            error.virtual_host = self._config.virtual_host
        if isinstance(
            error, (exceptions.ProbableAuthenticationError, exceptions.ProbableAccessDeniedError)
        ):
            error.username = self._username

    def _at_endpoint(self) -> str:
        host = self._config.host
        return "" if host is None else f" at {exceptions._host_port(host, self._config.port)}"
