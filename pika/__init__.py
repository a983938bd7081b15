"""pika: a typed, fast, drop-in rewrite of the pika AMQP 0-9-1 client for RabbitMQ.

Public names and submodules are loaded on first use (PEP 562), so ``import
pika`` stays cheap and an optional adapter framework is never imported unless
its adapter is.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "1.4.4"

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from pika import adapters, frame, spec
    from pika.adapters import BaseConnection, BlockingConnection, SelectConnection
    from pika.adapters.thread_safe_connection import Connection
    from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflow
    from pika.connection import ConnectionParameters, SSLOptions, URLParameters
    from pika.credentials import PlainCredentials
    from pika.delivery_mode import DeliveryMode
    from pika.recovery import RecoveryPolicy
    from pika.spec import BasicProperties

_EXPORTS = {
    "AMQPConnectionWorkflow": "pika.adapters.utils.connection_workflow",
    "BaseConnection": "pika.adapters.base_connection",
    "BasicProperties": "pika.spec",
    "BlockingConnection": "pika.adapters.blocking_connection",
    "Connection": "pika.adapters.thread_safe_connection",
    "ConnectionParameters": "pika.connection",
    "DeliveryMode": "pika.delivery_mode",
    "PlainCredentials": "pika.credentials",
    "RecoveryPolicy": "pika.recovery",
    "SSLOptions": "pika.connection",
    "SelectConnection": "pika.adapters.select_connection",
    "URLParameters": "pika.connection",
}

_SUBMODULES = frozenset(
    {
        "adapters",
        "amqp_object",
        "callback",
        "channel",
        "compat",
        "connection",
        "credentials",
        "data",
        "delivery_mode",
        "diagnostic_utils",
        "exceptions",
        "exchange_type",
        "frame",
        "heartbeat",
        "recovery",
        "spec",
        "tcp_socket_opts",
        "validators",
    }
)

__all__ = [
    "AMQPConnectionWorkflow",
    "BaseConnection",
    "BasicProperties",
    "BlockingConnection",
    "Connection",
    "ConnectionParameters",
    "DeliveryMode",
    "PlainCredentials",
    "RecoveryPolicy",
    "SSLOptions",
    "SelectConnection",
    "URLParameters",
    "adapters",
    "frame",
    "spec",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"pika.{name}")
    else:
        raise AttributeError(f"module 'pika' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
