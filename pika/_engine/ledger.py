"""What the application declared and consumed: the base for topology recovery.

Theory of operation: a ``TopologyLedger`` is shared by every channel of a
connection that has recovery enabled (``ChannelMachine.ledger``).  The channel
calls ``record(channel_number, sent, reply, token)`` when a synchronous method
succeeds (its reply arrived) or, for nowait methods, when it goes on the wire;
the ledger looks the method up in ``_RECORDERS`` and ignores anything else.
Passive declares check rather than create, so they are never recorded.

Records are frozen: a redeclare or a rename replaces one.  Removing an entity
removes what depends on it, mirroring the broker: deleting a queue drops its
bindings and consumers; deleting an exchange drops the bindings that name
it; when the last consumer of an auto-delete queue leaves, or the last binding
from an auto-delete exchange goes, the broker deletes that entity too.

``recovery_plan()`` lists the records in replay order; every record builds
the method that re-creates it (``method()``).  A server-named queue replays
with ``queue=''``: when its DeclareOk names the new queue, the caller calls
``rename_queue(old, new)`` and ``renamed(plan, old, new)`` on what is left of
the plan, so bindings and consumers follow the new name.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pika import amqp_object, spec

from .records import (
    BindingRecord,
    ConfirmRecord,
    ConsumerRecord,
    EntityRecord,
    ExchangeRecord,
    LedgerRecord,
    QosRecord,
    QueueRecord,
    RecordFilter,
    TxRecord,
    args_copy,
)

LOGGER = logging.getLogger("pika.connection")


@dataclass
class _ChannelSettings:
    qos: dict[bool, QosRecord] = field(default_factory=dict)
    confirm: bool = False
    tx: bool = False
    consumers: dict[str, ConsumerRecord] = field(default_factory=dict)


class TopologyLedger:
    """Exchanges, queues, bindings and per-channel state to replay after a drop."""

    def __init__(self) -> None:
        self.exchanges: dict[str, ExchangeRecord] = {}
        self.queues: dict[str, QueueRecord] = {}
        self.bindings: list[BindingRecord] = []
        self.channels: dict[int, _ChannelSettings] = {}

    # -- recording ------------------------------------------------------

    def record(
        self,
        channel_number: int,
        sent: amqp_object.Method,
        reply: amqp_object.Method | None,
        token: object = None,
    ) -> None:
        """Note a successful ``sent`` (``reply`` is None for nowait methods)."""
        recorder = _RECORDERS.get(type(sent))
        if recorder is not None:
            recorder(self, channel_number, sent, reply, token)

    def forget_consumer(self, channel_number: int, tag: str) -> None:
        """A consumer is gone (cancelled by the client or the broker)."""
        settings = self.channels.get(channel_number)
        consumer = settings.consumers.pop(tag, None) if settings else None
        if consumer is not None:
            self._maybe_auto_delete_queue(consumer.queue)

    def forget_channel(self, channel_number: int) -> None:
        """The application's channel closed for good: drop its settings and consumers."""
        settings = self.channels.pop(channel_number, None)
        if settings is not None:
            for consumer in settings.consumers.values():
                self._maybe_auto_delete_queue(consumer.queue)

    def rename_queue(self, old: str, new: str) -> None:
        """A server-named queue came back as ``new``: bindings and consumers follow."""
        record = self.queues.pop(old, None)
        if record is not None and new not in self.queues:
            self.queues[new] = dataclasses.replace(record, name=new)
        self.bindings = _dedupe(renamed(self.bindings, old, new))
        for settings in self.channels.values():
            for tag, consumer in settings.consumers.items():
                if consumer.queue == old:
                    settings.consumers[tag] = dataclasses.replace(consumer, queue=new)

    # -- the plan -------------------------------------------------------

    def recovery_plan(
        self, filter: RecordFilter | None = None, topology: bool = True
    ) -> list[LedgerRecord]:
        """Records in replay order: channel settings, exchanges, queues, bindings, consumers.

        ``filter`` returns False for entities to leave out (channel settings
        are always kept); ``topology=False`` keeps only the channel settings.
        """
        plan: list[LedgerRecord] = []
        for number in sorted(self.channels):
            plan.extend(self._settings_of(number))
        if not topology:
            return plan
        entities: list[EntityRecord] = [*self.exchanges.values(), *self.queues.values()]
        entities.extend(b for b in self.bindings if b.to_exchange)
        entities.extend(b for b in self.bindings if not b.to_exchange)
        for number in sorted(self.channels):
            entities.extend(self.channels[number].consumers.values())
        plan.extend(e for e in entities if filter is None or filter(e))
        return plan

    def consumers(self) -> list[ConsumerRecord]:
        """Every recorded consumer, by channel then registration order."""
        return [c for n in sorted(self.channels) for c in self.channels[n].consumers.values()]

    def _settings_of(self, number: int) -> list[LedgerRecord]:
        settings = self.channels[number]
        records: list[LedgerRecord] = [settings.qos[g] for g in (True, False) if g in settings.qos]
        if settings.confirm:
            records.append(ConfirmRecord(number))
        if settings.tx:
            records.append(TxRecord(number))
        return records

    # -- recorders (dispatched from _RECORDERS) -------------------------

    def _settings(self, channel_number: int) -> _ChannelSettings:
        settings = self.channels.get(channel_number)
        if settings is None:
            settings = self.channels[channel_number] = _ChannelSettings()
        return settings

    def _exchange_declared(self, number: int, sent: Any, reply: Any, token: object) -> None:
        if sent.passive:
            return
        self.exchanges[sent.exchange] = ExchangeRecord(
            number,
            sent.exchange,
            sent.type,
            bool(sent.durable),
            bool(sent.auto_delete),
            bool(sent.internal),
            args_copy(sent.arguments),
        )

    def _exchange_deleted(self, number: int, sent: Any, reply: Any, token: object) -> None:
        self._drop_exchange(sent.exchange)

    def _queue_declared(self, number: int, sent: Any, reply: Any, token: object) -> None:
        if sent.passive:
            return
        name = sent.queue or (reply.queue if reply is not None else "")
        if not name:
            LOGGER.warning("Cannot record a nowait declare of a server-named queue for recovery")
            return
        self.queues[name] = QueueRecord(
            number,
            name,
            bool(sent.durable),
            bool(sent.exclusive),
            bool(sent.auto_delete),
            not sent.queue,
            args_copy(sent.arguments),
        )

    def _queue_deleted(self, number: int, sent: Any, reply: Any, token: object) -> None:
        self._drop_queue(sent.queue)

    def _bound(self, number: int, sent: Any, reply: Any, token: object) -> None:
        binding = _binding_of(number, sent)
        if not any(_same_binding(binding, b) for b in self.bindings):
            self.bindings.append(binding)

    def _unbound(self, number: int, sent: Any, reply: Any, token: object) -> None:
        target = _binding_of(number, sent)
        kept = [b for b in self.bindings if not _same_binding(b, target)]
        if len(kept) != len(self.bindings):
            self.bindings = kept
            self._maybe_auto_delete_exchange(target.source)

    def _qos_set(self, number: int, sent: Any, reply: Any, token: object) -> None:
        qos = QosRecord(number, sent.prefetch_size, sent.prefetch_count, bool(sent.global_qos))
        self._settings(number).qos[qos.global_qos] = qos

    def _confirm_selected(self, number: int, sent: Any, reply: Any, token: object) -> None:
        self._settings(number).confirm = True

    def _tx_selected(self, number: int, sent: Any, reply: Any, token: object) -> None:
        self._settings(number).tx = True

    def _consumed(self, number: int, sent: Any, reply: Any, token: object) -> None:
        tag = reply.consumer_tag if reply is not None else sent.consumer_tag
        self._settings(number).consumers[tag] = ConsumerRecord(
            number,
            tag,
            sent.queue,
            bool(sent.no_ack),
            bool(sent.exclusive),
            token,
            args_copy(sent.arguments),
        )

    def _cancelled(self, number: int, sent: Any, reply: Any, token: object) -> None:
        self.forget_consumer(number, sent.consumer_tag)

    # -- cascades -------------------------------------------------------

    def _drop_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        gone = [b for b in self.bindings if b.names_queue(name)]
        self.bindings = [b for b in self.bindings if not b.names_queue(name)]
        for settings in self.channels.values():
            for tag in [t for t, c in settings.consumers.items() if c.queue == name]:
                del settings.consumers[tag]
        for binding in gone:
            self._maybe_auto_delete_exchange(binding.source)

    def _drop_exchange(self, name: str) -> None:
        self.exchanges.pop(name, None)
        gone = [b for b in self.bindings if b.names_exchange(name)]
        self.bindings = [b for b in self.bindings if not b.names_exchange(name)]
        for binding in gone:
            if binding.source != name:
                self._maybe_auto_delete_exchange(binding.source)

    def _maybe_auto_delete_queue(self, name: str) -> None:
        record = self.queues.get(name)
        if record is not None and record.auto_delete and not self._has_consumers(name):
            self._drop_queue(name)

    def _maybe_auto_delete_exchange(self, name: str) -> None:
        record = self.exchanges.get(name)
        if (
            record is not None
            and record.auto_delete
            and not any(b.source == name for b in self.bindings)
        ):
            self._drop_exchange(name)

    def _has_consumers(self, queue: str) -> bool:
        return any(c.queue == queue for s in self.channels.values() for c in s.consumers.values())


def renamed(records: Iterable[LedgerRecord], old: str, new: str) -> list[LedgerRecord]:
    """``records`` with queue ``old`` renamed ``new`` (for the rest of a plan)."""
    result: list[LedgerRecord] = []
    for record in records:
        if isinstance(record, BindingRecord) and record.names_queue(old):
            record = dataclasses.replace(record, destination=new)
        elif isinstance(record, ConsumerRecord) and record.queue == old:
            record = dataclasses.replace(record, queue=new)
        elif isinstance(record, QueueRecord) and record.name == old:
            record = dataclasses.replace(record, name=new)
        result.append(record)
    return result


def _binding_of(number: int, sent: Any) -> BindingRecord:
    to_exchange = type(sent) in (spec.Exchange.Bind, spec.Exchange.Unbind)
    if to_exchange:
        destination, source = sent.destination, sent.source
    else:
        destination, source = sent.queue, sent.exchange
    return BindingRecord(
        number, destination, source, sent.routing_key, to_exchange, args_copy(sent.arguments)
    )


def _same_binding(a: BindingRecord, b: BindingRecord) -> bool:
    # The channel a binding was made on does not matter to the broker.
    return dataclasses.replace(a, channel_number=0) == dataclasses.replace(b, channel_number=0)


def _dedupe(records: list[Any]) -> list[BindingRecord]:
    kept: list[BindingRecord] = []
    for record in records:
        if not any(_same_binding(record, k) for k in kept):
            kept.append(record)
    return kept


Recorder = Callable[[TopologyLedger, int, Any, Any, object], None]

_RECORDERS: dict[type[amqp_object.Method], Recorder] = {
    spec.Exchange.Declare: TopologyLedger._exchange_declared,
    spec.Exchange.Delete: TopologyLedger._exchange_deleted,
    spec.Exchange.Bind: TopologyLedger._bound,
    spec.Exchange.Unbind: TopologyLedger._unbound,
    spec.Queue.Declare: TopologyLedger._queue_declared,
    spec.Queue.Delete: TopologyLedger._queue_deleted,
    spec.Queue.Bind: TopologyLedger._bound,
    spec.Queue.Unbind: TopologyLedger._unbound,
    spec.Basic.Qos: TopologyLedger._qos_set,
    spec.Basic.Consume: TopologyLedger._consumed,
    spec.Basic.Cancel: TopologyLedger._cancelled,
    spec.Confirm.Select: TopologyLedger._confirm_selected,
    spec.Tx.Select: TopologyLedger._tx_selected,
}
