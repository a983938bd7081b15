"""TCP socket options settable through ``ConnectionParameters.tcp_options``."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from pika._utils import LINUX_VERSION, ON_OSX, SOL_TCP

__all__ = ["set_sock_opts", "socket_requires_keepalive"]

LOGGER = logging.getLogger(__name__)

_KEEPALIVE_OPTIONS = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")
# Linux defines TCP_USER_TIMEOUT as 18 since 2.6.37, even when Python lacks the name.
_LINUX_TCP_USER_TIMEOUT = 18


def _supported_options() -> dict[str, int]:
    """Map each option name to the platform's socket constant, where it exists."""
    options: dict[str, int] = {}
    user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
    if user_timeout is None and LINUX_VERSION is not None and LINUX_VERSION >= (2, 6, 37):
        user_timeout = _LINUX_TCP_USER_TIMEOUT
    if user_timeout is not None:
        options["TCP_USER_TIMEOUT"] = user_timeout
    for name in _KEEPALIVE_OPTIONS:
        value = getattr(socket, name, None)
        if value is None and name == "TCP_KEEPIDLE" and ON_OSX:
            # macOS spells the idle time before keepalive probes TCP_KEEPALIVE.
            value = getattr(socket, "TCP_KEEPALIVE", None)
        if value is not None:
            options[name] = value
    return options


_SUPPORTED_TCP_OPTIONS: dict[str, int] = _supported_options()


def socket_requires_keepalive(tcp_options: Mapping[str, Any]) -> bool:
    """Return True if ``tcp_options`` names any keepalive option."""
    return any(name in tcp_options for name in _KEEPALIVE_OPTIONS)


def set_sock_opts(tcp_options: Mapping[str, Any] | None, sock: socket.socket) -> None:
    """Apply ``tcp_options`` to ``sock``; unsupported names are logged and skipped."""
    if not tcp_options:
        return
    if socket_requires_keepalive(tcp_options):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in tcp_options.items():
        option = _SUPPORTED_TCP_OPTIONS.get(name)
        if option is None:
            LOGGER.warning("Unsupported TCP option %s:%s", name, value)
        else:
            sock.setsockopt(SOL_TCP, option, value)
