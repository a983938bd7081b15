"""Opening handshake rules: client properties, SASL and Tune negotiation.

Pure functions used by ``ConnectionEngine`` when Start and Tune arrive:
building StartOk from the credentials, and agreeing on channel_max,
frame_max and heartbeat the way pika 1.x does (for the first two, zero means
"take the other side's value", otherwise the smaller wins; for the
heartbeat, the client's choice wins whenever it made one).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pika import spec
from pika.credentials import Credentials

PRODUCT = "Pika Python Client Library"
INFORMATION = "See https://pika.rtfd.org"

CLIENT_CAPABILITIES: Mapping[str, bool] = {
    "authentication_failure_close": True,
    "basic.nack": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
    "exchange_exchange_bindings": True,
    "publisher_confirms": True,
}


HeartbeatChoice = int | None | Callable[[int], int]


@dataclass
class HandshakeConfig:
    """Everything the engine needs to open a connection."""

    credentials: Credentials
    virtual_host: str = "/"
    locale: str = "en_US"
    channel_max: int = 65535
    frame_max: int = spec.FRAME_MAX_SIZE
    heartbeat: HeartbeatChoice = None
    client_properties: dict[str, Any] = field(default_factory=dict)
    blocked_connection_timeout: float | None = None
    host: str | None = None
    port: int | None = None


def client_properties(version: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Default StartOk client properties with the user's merged over them (shallow)."""
    props: dict[str, Any] = {
        "product": PRODUCT,
        "platform": f"Python {platform.python_version()}",
        "capabilities": dict(CLIENT_CAPABILITIES),
        "information": INFORMATION,
        "version": version,
    }
    if overrides:
        props.update(overrides)
    return props


def negotiate_limit(client: int, server: int) -> int:
    """channel_max / frame_max rule: 0 means no limit from that side."""
    if client == 0 or server == 0:
        return max(client, server)
    return min(client, server)


def negotiate_heartbeat(choice: HeartbeatChoice, server: int) -> int:
    """The client's heartbeat wins if it chose one; None takes the broker's."""
    if callable(choice):
        return int(choice(server))
    if choice is None:
        return server
    return int(choice)


def start_ok(
    config: HandshakeConfig, start: spec.Connection.Start
) -> spec.Connection.StartOk | None:
    """Answer Connection.Start, or None when no SASL mechanism is shared."""
    mechanism, response = config.credentials.response_for(start)
    if mechanism is None:
        return None
    reply = spec.Connection.StartOk(
        client_properties=config.client_properties,
        mechanism=mechanism,
        response=response,
        locale=config.locale,
    )
    config.credentials.erase_credentials()
    return reply
