"""``Parameters`` and ``ConnectionParameters``: validated connection settings.

Every field is a property whose setter validates (TypeError for a wrong type,
ValueError for an out-of-range value), so a bad value fails where it is set,
in the constructor or later. ``__slots__`` makes a misspelt attribute an
AttributeError instead of a silently ignored setting.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable
from typing import Any, SupportsIndex, SupportsInt, TypeAlias, cast

import pika.credentials as _credentials
from pika._engine.policy import RecoveryPolicy
from pika._params.ssl_options import SSLOptions
from pika.credentials import Credentials, PlainCredentials

__all__ = ["ConnectionParameters", "HeartbeatCallback", "Parameters"]

#: ``heartbeat(connection, broker_proposal) -> seconds``, called during tuning.
HeartbeatCallback = Callable[[Any, int], int]

# Mirrors pika.channel.MAX_CHANNELS and spec.FRAME_MIN_SIZE/FRAME_MAX_SIZE;
# kept literal so parameters import nothing from the protocol layers.
_MAX_CHANNELS = 65535
_FRAME_MIN_SIZE = 8192
_FRAME_MAX_SIZE = 131072


def _type_name(value: object) -> str:
    return type(value).__name__


def _require_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, but got {value!r}")
    return value


def _require_int_in_range(name: str, value: object, low: int, high: int | None) -> int:
    """Check an Integral within [low, high] (no upper bound when high is None)."""
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, but got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f">= {low} and <= {high}"
        raise ValueError(f"{name} must be {bounds}, but got {value!r}")
    return number


def _require_real(name: str, value: object) -> float:
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float or int, but got {value!r}")
    # Stored unconverted (an int stays an int), as pika does.
    return cast(float, value)


def _optional_timeout(name: str, value: object, allow_zero: bool) -> float | None:
    """Check None or a Real > 0 (>= 0 when ``allow_zero``)."""
    if value is None:
        return None
    number = _require_real(name, value)
    # Written so that NaN, which compares false with everything, is rejected.
    in_range = number >= 0 if allow_zero else number > 0
    if not in_range:
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0, but got {value!r}")
    return number


def _optional_dict(name: str, value: object) -> dict[str, Any] | None:
    # Only the type is reported: these dicts may carry secrets.
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict or None, but got {_type_name(value)}")
    return value


class Parameters:
    """Connection settings with pika's defaults; base of the concrete classes."""

    __slots__ = (
        "_blocked_connection_timeout",
        "_channel_max",
        "_client_properties",
        "_connection_attempts",
        "_credentials",
        "_frame_max",
        "_heartbeat",
        "_host",
        "_locale",
        "_port",
        "_recovery",
        "_retry_delay",
        "_socket_timeout",
        "_ssl_options",
        "_stack_timeout",
        "_tcp_options",
        "_virtual_host",
    )

    DEFAULT_USERNAME = "guest"
    DEFAULT_PASSWORD = "guest"
    DEFAULT_BLOCKED_CONNECTION_TIMEOUT: float | None = None
    DEFAULT_CHANNEL_MAX = _MAX_CHANNELS
    DEFAULT_CLIENT_PROPERTIES: dict[str, Any] | None = None
    DEFAULT_CREDENTIALS = PlainCredentials(DEFAULT_USERNAME, DEFAULT_PASSWORD)
    DEFAULT_CONNECTION_ATTEMPTS = 1
    DEFAULT_FRAME_MAX = _FRAME_MAX_SIZE
    DEFAULT_HEARTBEAT_TIMEOUT: int | None = None
    DEFAULT_HOST = "localhost"
    DEFAULT_LOCALE = "en_US"
    DEFAULT_PORT = 5672
    DEFAULT_RECOVERY: RecoveryPolicy | None = None
    DEFAULT_RETRY_DELAY = 2.0
    DEFAULT_SOCKET_TIMEOUT = 10.0
    DEFAULT_STACK_TIMEOUT = 15.0
    DEFAULT_SSL = False
    DEFAULT_SSL_OPTIONS: SSLOptions | None = None
    DEFAULT_SSL_PORT = 5671
    DEFAULT_VIRTUAL_HOST = "/"
    DEFAULT_TCP_OPTIONS: dict[str, Any] | None = None

    def __init__(self) -> None:
        self.blocked_connection_timeout = self.DEFAULT_BLOCKED_CONNECTION_TIMEOUT
        self.channel_max = self.DEFAULT_CHANNEL_MAX
        self.client_properties = self.DEFAULT_CLIENT_PROPERTIES
        self.connection_attempts = self.DEFAULT_CONNECTION_ATTEMPTS
        self.credentials = self.DEFAULT_CREDENTIALS
        self.frame_max = self.DEFAULT_FRAME_MAX
        self.heartbeat = self.DEFAULT_HEARTBEAT_TIMEOUT
        self.host = self.DEFAULT_HOST
        self.locale = self.DEFAULT_LOCALE
        self.port = self.DEFAULT_PORT
        self.recovery = self.DEFAULT_RECOVERY
        self.retry_delay = self.DEFAULT_RETRY_DELAY
        self.socket_timeout = self.DEFAULT_SOCKET_TIMEOUT
        self.stack_timeout = self.DEFAULT_STACK_TIMEOUT
        self.ssl_options = self.DEFAULT_SSL_OPTIONS
        self.tcp_options = self.DEFAULT_TCP_OPTIONS
        self.virtual_host = self.DEFAULT_VIRTUAL_HOST

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} host={self.host} port={self.port} "
            f"virtual_host={self.virtual_host} ssl={bool(self.ssl_options)}>"
        )

    def __eq__(self, other: object) -> bool:
        # Only the endpoint identifies a parameter set (pika compatibility).
        if isinstance(other, Parameters):
            return self._host == other._host and self._port == other._port
        return NotImplemented

    @property
    def blocked_connection_timeout(self) -> float | None:
        """Seconds a broker-blocked connection may stay blocked before it is
        torn down with ConnectionBlockedTimeout; None waits forever."""
        return self._blocked_connection_timeout

    @blocked_connection_timeout.setter
    def blocked_connection_timeout(self, value: float | None) -> None:
        self._blocked_connection_timeout = _optional_timeout(
            "blocked_connection_timeout", value, allow_zero=True
        )

    @property
    def recovery(self) -> RecoveryPolicy | None:
        """Automatic recovery policy (not in pika 1.4); None (the default) disables it.

        Assign True for the default ``RecoveryPolicy``, False or None to disable.
        """
        return self._recovery

    @recovery.setter
    def recovery(self, value: RecoveryPolicy | bool | None) -> None:
        if value is True:
            value = RecoveryPolicy()
        elif value is False:
            value = None
        if value is not None and not isinstance(value, RecoveryPolicy):
            raise TypeError(
                f"recovery must be a RecoveryPolicy, a bool or None, but got {_type_name(value)}"
            )
        self._recovery = value

    @property
    def channel_max(self) -> int:
        """Highest channel number wanted (1..65535); tuning writes back the
        negotiated value."""
        return self._channel_max

    @channel_max.setter
    def channel_max(self, value: int) -> None:
        self._channel_max = _require_int_in_range("channel_max", value, 1, _MAX_CHANNELS)

    @property
    def client_properties(self) -> dict[str, Any] | None:
        """Properties merged over the defaults sent in Connection.StartOk (a deep copy)."""
        return self._client_properties

    @client_properties.setter
    def client_properties(self, value: dict[str, Any] | None) -> None:
        self._client_properties = copy.deepcopy(_optional_dict("client_properties", value))

    @property
    def connection_attempts(self) -> int:
        """How many times to try each endpoint (>= 1)."""
        return self._connection_attempts

    @connection_attempts.setter
    def connection_attempts(self, value: int) -> None:
        self._connection_attempts = _require_int_in_range("connection_attempts", value, 1, None)

    @property
    def credentials(self) -> Credentials:
        """The SASL credentials (a deep copy of the object assigned)."""
        return self._credentials

    @credentials.setter
    def credentials(self, value: Credentials) -> None:
        valid_types = tuple(_credentials.VALID_TYPES)
        if not isinstance(value, valid_types):
            names = ", ".join(cls.__name__ for cls in valid_types)
            # Only the type: a wrong value may well be a (user, password) tuple.
            raise TypeError(
                f"credentials must be an instance of one of ({names}), but got {_type_name(value)}"
            )
        self._credentials = copy.deepcopy(value)

    @property
    def frame_max(self) -> int:
        """Largest frame wanted, in bytes (8192..131072); tuning writes back the
        negotiated value."""
        return self._frame_max

    @frame_max.setter
    def frame_max(self, value: int) -> None:
        self._frame_max = _require_int_in_range(
            "frame_max", value, _FRAME_MIN_SIZE, _FRAME_MAX_SIZE
        )

    @property
    def heartbeat(self) -> int | HeartbeatCallback | None:
        """Heartbeat timeout in seconds: None takes the broker's, 0 disables,
        a callable ``(connection, broker_value) -> int`` decides during tuning."""
        return self._heartbeat

    @heartbeat.setter
    def heartbeat(self, value: int | HeartbeatCallback | None) -> None:
        if value is not None and not callable(value):
            if not isinstance(value, numbers.Integral):
                raise TypeError(f"heartbeat must be an int or a callable, but got {value!r}")
            value = _require_int_in_range("heartbeat", value, 0, None)
        self._heartbeat = value

    @property
    def host(self) -> str:
        """Broker host name or address."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = _require_str("host", value)

    @property
    def locale(self) -> str:
        """Locale sent in Connection.StartOk."""
        return self._locale

    @locale.setter
    def locale(self, value: str) -> None:
        self._locale = _require_str("locale", value)

    @property
    def port(self) -> int:
        """Broker TCP port."""
        return self._port

    @port.setter
    def port(self, value: SupportsInt | SupportsIndex | str | bytes) -> None:
        try:
            self._port = int(value)
        except (TypeError, ValueError):
            raise TypeError(f"port must be an int, but got {value!r}") from None

    @property
    def retry_delay(self) -> float:
        """Seconds to wait between connection attempts."""
        return self._retry_delay

    @retry_delay.setter
    def retry_delay(self, value: float) -> None:
        self._retry_delay = _require_real("retry_delay", value)

    @property
    def socket_timeout(self) -> float | None:
        """TCP connect timeout in seconds, per resolved address; None waits forever."""
        return self._socket_timeout

    @socket_timeout.setter
    def socket_timeout(self, value: float | None) -> None:
        timeout = _optional_timeout("socket_timeout", value, allow_zero=False)
        self._socket_timeout = None if timeout is None else float(timeout)

    @property
    def ssl_options(self) -> SSLOptions | None:
        """TLS settings; None means plain TCP."""
        return self._ssl_options

    @ssl_options.setter
    def ssl_options(self, value: SSLOptions | None) -> None:
        if value is not None and not isinstance(value, SSLOptions):
            # Only the type: a legacy options dict may hold a key password.
            raise TypeError(
                "ssl_options must be None or a pika.SSLOptions instance, "
                f"but got {_type_name(value)}"
            )
        self._ssl_options = value

    @property
    def stack_timeout(self) -> float | None:
        """Timeout in seconds for TCP + TLS + AMQP handshake together, per address."""
        return self._stack_timeout

    @stack_timeout.setter
    def stack_timeout(self, value: float | None) -> None:
        timeout = _optional_timeout("stack_timeout", value, allow_zero=False)
        self._stack_timeout = None if timeout is None else float(timeout)

    @property
    def tcp_options(self) -> dict[str, Any] | None:
        """Socket options: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT."""
        return self._tcp_options

    @tcp_options.setter
    def tcp_options(self, value: dict[str, Any] | None) -> None:
        self._tcp_options = _optional_dict("tcp_options", value)

    @property
    def virtual_host(self) -> str:
        """AMQP virtual host."""
        return self._virtual_host

    @virtual_host.setter
    def virtual_host(self, value: str) -> None:
        self._virtual_host = _require_str("virtual_host", value)


class ConnectionParameters(Parameters):
    """Connection settings given as arguments; every argument left out keeps
    its default. Giving ``ssl_options`` without ``port`` selects port 5671.
    """

    __slots__ = ()

    class _DEFAULT:
        """Marks an argument as not given: the field keeps its Parameters default."""

    def __init__(
        self,
        host: str | _Unset = _DEFAULT,
        port: SupportsInt | SupportsIndex | str | bytes | _Unset = _DEFAULT,
        virtual_host: str | _Unset = _DEFAULT,
        credentials: Credentials | _Unset = _DEFAULT,
        channel_max: int | _Unset = _DEFAULT,
        frame_max: int | _Unset = _DEFAULT,
        heartbeat: int | HeartbeatCallback | _Unset | None = _DEFAULT,
        ssl_options: SSLOptions | _Unset | None = _DEFAULT,
        connection_attempts: int | _Unset = _DEFAULT,
        retry_delay: float | _Unset = _DEFAULT,
        socket_timeout: float | _Unset | None = _DEFAULT,
        stack_timeout: float | _Unset | None = _DEFAULT,
        locale: str | _Unset = _DEFAULT,
        blocked_connection_timeout: float | _Unset | None = _DEFAULT,
        client_properties: dict[str, Any] | _Unset | None = _DEFAULT,
        tcp_options: dict[str, Any] | _Unset | None = _DEFAULT,
        *,
        recovery: RecoveryPolicy | bool | _Unset | None = _DEFAULT,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            # Names only: values of a mistyped keyword may be secrets.
            names = ", ".join(repr(name) for name in sorted(kwargs))
            raise TypeError(f"unexpected kwargs: {{{names}}}")
        super().__init__()
        given = {
            name: value
            for name, value in (
                ("host", host),
                ("port", port),
                ("virtual_host", virtual_host),
                ("credentials", credentials),
                ("channel_max", channel_max),
                ("frame_max", frame_max),
                ("heartbeat", heartbeat),
                ("ssl_options", ssl_options),
                ("connection_attempts", connection_attempts),
                ("retry_delay", retry_delay),
                ("socket_timeout", socket_timeout),
                ("stack_timeout", stack_timeout),
                ("locale", locale),
                ("blocked_connection_timeout", blocked_connection_timeout),
                ("client_properties", client_properties),
                ("tcp_options", tcp_options),
                ("recovery", recovery),
            )
            if value is not self._DEFAULT
        }
        for name, value in given.items():
            setattr(self, name, value)
        if "port" not in given and given.get("ssl_options") is not None:
            self.port = self.DEFAULT_SSL_PORT


_Unset: TypeAlias = "type[ConnectionParameters._DEFAULT]"

for _cls in (Parameters, ConnectionParameters, ConnectionParameters._DEFAULT):
    _cls.__module__ = "pika.connection"
del _cls
