"""The records a ``TopologyLedger`` keeps: one frozen dataclass per kind.

Each record knows the method that re-creates it on a new connection
(``method()``, a fresh object every call since channels may set ``nowait``).
Entity records remember the channel that made them; recovery replays them
there, though the broker does not care which channel re-creates an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pika import spec

Arguments = dict[str, Any]


def args_copy(arguments: Mapping[str, Any] | None) -> Arguments:
    # A copy: the application may reuse and mutate the dict it passed.
    return dict(arguments or {})


@dataclass(frozen=True)
class QosRecord:
    """Basic.Qos on a channel (RabbitMQ keeps a global and a per-consumer one)."""

    channel_number: int
    prefetch_size: int
    prefetch_count: int
    global_qos: bool

    def method(self) -> spec.Basic.Qos:
        return spec.Basic.Qos(self.prefetch_size, self.prefetch_count, self.global_qos)


@dataclass(frozen=True)
class ConfirmRecord:
    """The channel is in publisher-confirm mode."""

    channel_number: int

    def method(self) -> spec.Confirm.Select:
        return spec.Confirm.Select()


@dataclass(frozen=True)
class TxRecord:
    """The channel is in transaction mode."""

    channel_number: int

    def method(self) -> spec.Tx.Select:
        return spec.Tx.Select()


@dataclass(frozen=True)
class ExchangeRecord:
    """A declared exchange; ``channel_number`` is the channel that declared it."""

    channel_number: int
    name: str
    exchange_type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]

    def method(self) -> spec.Exchange.Declare:
        return spec.Exchange.Declare(
            exchange=self.name,
            type=self.exchange_type,
            durable=self.durable,
            auto_delete=self.auto_delete,
            internal=self.internal,
            arguments=args_copy(self.arguments),
        )


@dataclass(frozen=True)
class QueueRecord:
    """A declared queue; ``server_named`` queues replay with ``queue=''``."""

    channel_number: int
    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    server_named: bool
    arguments: dict[str, Any]

    def method(self) -> spec.Queue.Declare:
        return spec.Queue.Declare(
            queue="" if self.server_named else self.name,
            durable=self.durable,
            exclusive=self.exclusive,
            auto_delete=self.auto_delete,
            arguments=args_copy(self.arguments),
        )


@dataclass(frozen=True)
class BindingRecord:
    """A queue->exchange (``to_exchange`` False) or exchange->exchange binding."""

    channel_number: int
    destination: str
    source: str
    routing_key: str
    to_exchange: bool
    arguments: dict[str, Any]

    def method(self) -> spec.Queue.Bind | spec.Exchange.Bind:
        if self.to_exchange:
            return spec.Exchange.Bind(
                destination=self.destination,
                source=self.source,
                routing_key=self.routing_key,
                arguments=args_copy(self.arguments),
            )
        return spec.Queue.Bind(
            queue=self.destination,
            exchange=self.source,
            routing_key=self.routing_key,
            arguments=args_copy(self.arguments),
        )

    def names_queue(self, queue: str) -> bool:
        """True if this binding's destination is the queue ``queue``."""
        return not self.to_exchange and self.destination == queue

    def names_exchange(self, exchange: str) -> bool:
        """True if this binding's source or destination is the exchange ``exchange``."""
        return self.source == exchange or (self.to_exchange and self.destination == exchange)


@dataclass(frozen=True)
class ConsumerRecord:
    """A consumer, with the face's token so its callback survives recovery."""

    channel_number: int
    tag: str
    queue: str
    auto_ack: bool
    exclusive: bool
    token: object
    arguments: dict[str, Any]

    def method(self) -> spec.Basic.Consume:
        return spec.Basic.Consume(
            queue=self.queue,
            consumer_tag=self.tag,
            no_ack=self.auto_ack,
            exclusive=self.exclusive,
            arguments=args_copy(self.arguments),
        )


EntityRecord = ExchangeRecord | QueueRecord | BindingRecord | ConsumerRecord
LedgerRecord = QosRecord | ConfirmRecord | TxRecord | EntityRecord
RecordFilter = Callable[[EntityRecord], bool]
