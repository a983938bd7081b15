"""Private helpers shared across pika (platform facts, byte coercion, socket pairs)."""

from __future__ import annotations

import logging
import os
import platform
import re
import socket
import sys
import time
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

__all__ = [
    "HAVE_SIGNAL",
    "LINUX_VERSION",
    "ON_LINUX",
    "ON_OSX",
    "ON_WINDOWS",
    "SOCKET_ERROR",
    "SOL_TCP",
    "Protocol",
    "as_bytes",
    "get_linux_version",
    "nonblocking_socketpair",
    "override",
    "runtime_checkable",
    "time_now",
    "to_digit",
]

LOGGER = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., object])

if sys.version_info >= (3, 12):
    from typing import override
else:

    def override(func: _F) -> _F:
        """Mark a method as overriding its base (a no-op before Python 3.12)."""
        return func


SOCKET_ERROR = OSError
SOL_TCP: int = getattr(socket, "SOL_TCP", socket.IPPROTO_TCP)

_LEADING_DIGITS = re.compile(r"\d+")


def time_now() -> float:
    """Return the monotonic clock in seconds (never goes backwards)."""
    return time.monotonic()


def as_bytes(value: str | bytes) -> bytes:
    """Return ``value`` as bytes, encoding a str as UTF-8."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def to_digit(value: str) -> int:
    """Return the leading decimal number of ``value`` ('19-generic' -> 19), or 0."""
    match = _LEADING_DIGITS.match(value)
    return int(match.group()) if match else 0


def get_linux_version(release_str: str) -> tuple[int, ...]:
    """Return the first three numeric parts of a kernel release string."""
    return tuple(to_digit(part) for part in release_str.split("."))[:3]


ON_LINUX = platform.system() == "Linux"
ON_OSX = platform.system() == "Darwin"
ON_WINDOWS = platform.system() == "Windows"
LINUX_VERSION: tuple[int, ...] | None = get_linux_version(platform.release()) if ON_LINUX else None
HAVE_SIGNAL = os.name == "posix"

# Bound to how many stray connections we tolerate on the private listener
# before giving up; anything else connecting to it is not our client.
_SOCKETPAIR_ACCEPT_ATTEMPTS = 10
_SOCKETPAIR_TIMEOUT = 10.0


def nonblocking_socketpair(
    family: int = socket.AF_INET, socket_type: int = socket.SOCK_STREAM, proto: int = 0
) -> tuple[socket.socket, socket.socket]:
    """Return a connected pair of non-blocking TCP sockets on the IPv4 loopback.

    Only the defaults are supported (a TCP pair works on every platform,
    including Windows, where ``socket.socketpair`` may not).
    """
    if family != socket.AF_INET:
        raise ValueError(f"Only AF_INET family is supported, but got {family!r}")
    if socket_type != socket.SOCK_STREAM:
        raise ValueError(f"Only SOCK_STREAM socket type is supported, but got {socket_type!r}")
    if proto != 0:
        raise ValueError(f"Only protocol zero is supported, but got {proto!r}")
    with socket.socket(family, socket_type, proto) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        # accept() below only waits for a connect that has already completed.
        listener.settimeout(_SOCKETPAIR_TIMEOUT)
        client = socket.socket(family, socket_type, proto)
        try:
            client.connect(listener.getsockname())
            server = _accept_peer(listener, client.getsockname())
        except BaseException:
            client.close()
            raise
    client.setblocking(False)
    server.setblocking(False)
    return client, server


def _accept_peer(listener: socket.socket, peer: object) -> socket.socket:
    """Accept connections until the one from ``peer`` arrives."""
    for _ in range(_SOCKETPAIR_ACCEPT_ATTEMPTS):
        conn, address = listener.accept()
        if address == peer:
            return conn
        # Someone else raced our client to the listener: never hand it out.
        LOGGER.warning("nonblocking_socketpair: dropped unexpected connection from %r", address)
        conn.close()
    raise OSError("nonblocking_socketpair: could not accept the expected loopback peer")
