"""Replaying the topology ledger on a recovered connection, one step at a time.

Theory of operation: ``start`` turns the ledger's plan into a queue of steps
and runs them strictly one after another, each waiting for its reply:

1. re-open every suspended channel (same number, same ``Channel`` object),
   then its QoS, confirm and tx settings;
2. on a private channel, re-declare exchanges, queues and bindings; a
   server-named queue's DeclareOk renames it in the ledger and in the steps
   still queued, so its bindings and consumers follow the new name;
3. re-register each consumer on its own channel with its tag and callback.

A step the broker refuses closes the channel it ran on: the policy's
``on_topology_error`` hook hears about it, the channel is re-opened (with its
settings, for an application channel) and the replay carries on without
that entity.  A lost connection cancels the replay; the next attempt starts
a new one.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pika._engine.ledger import TopologyLedger, renamed
from pika._engine.policy import RecoveryPolicy
from pika._engine.records import (
    ConfirmRecord,
    ConsumerRecord,
    EntityRecord,
    LedgerRecord,
    QosRecord,
    QueueRecord,
    TxRecord,
)

if TYPE_CHECKING:
    from pika.channel import Channel
    from pika.connection import Connection

LOGGER = logging.getLogger("pika.connection")

_SETTINGS = (QosRecord, ConfirmRecord, TxRecord)


class _Reopen:
    """Step: re-open an application channel."""

    __slots__ = ("channel",)

    def __init__(self, channel: Channel) -> None:
        self.channel = channel


class _PrivateChannel:
    """Step: open (``open=True``) or close the private channel for entities."""

    __slots__ = ("open",)

    def __init__(self, open: bool) -> None:
        self.open = open


Step = _Reopen | _PrivateChannel | LedgerRecord


class TopologyReplay:
    """Re-creates channels, settings, entities and consumers after a reconnect."""

    def __init__(
        self,
        connection: Connection,
        ledger: TopologyLedger,
        policy: RecoveryPolicy,
        channels: list[Channel],
    ) -> None:
        self._connection = connection
        self._ledger = ledger
        self._policy = policy
        self._channels = {chan.channel_number: chan for chan in channels}
        self._settings: dict[int, list[LedgerRecord]] = {n: [] for n in self._channels}
        self._consuming: dict[int, list[ConsumerRecord]] = {n: [] for n in self._channels}
        self._steps: deque[Step] = deque()
        self._current: Step | None = None
        self._private: Channel | None = None
        self._done: Callable[[], None] | None = None
        self._cancelled = False
        self.renamed_queues: dict[str, str] = {}  # server-named queues: old -> new name

    # -- control --------------------------------------------------------

    def start(self, done: Callable[[], None]) -> None:
        """Queue the plan's steps and run the first; ``done()`` after the last."""
        self._done = done
        plan = self._ledger.recovery_plan(
            self._policy.topology_filter, self._policy.recover_topology
        )
        for record in plan:
            if isinstance(record, _SETTINGS) and record.channel_number in self._settings:
                self._settings[record.channel_number].append(record)
        for number, chan in self._channels.items():
            self._steps.append(_Reopen(chan))
            self._steps.extend(self._settings[number])
        entities = [r for r in plan if not isinstance(r, (*_SETTINGS, ConsumerRecord))]
        if entities:
            self._steps.append(_PrivateChannel(open=True))
            self._steps.extend(entities)
            self._steps.append(_PrivateChannel(open=False))
        # A consume left unanswered by the drop is sent again by its channel, in
        # its place among that channel's other unanswered calls (after the queue
        # declare it may need), so the replay leaves it out.
        deferred = {
            (number, tag)
            for number, chan in self._channels.items()
            for tag in chan._deferred_consumers()
        }
        self._steps.extend(
            r
            for r in plan
            if isinstance(r, ConsumerRecord)
            and r.channel_number in self._channels
            and (r.channel_number, r.tag) not in deferred
        )
        self._next()

    def cancel(self) -> None:
        """The connection went away: stop (callbacks still in flight are ignored)."""
        self._cancelled = True

    # -- running steps --------------------------------------------------

    def _next(self, _reply: Any = None) -> None:
        if self._cancelled:
            return
        if not self._steps:
            self._current = None
            done, self._done = self._done, None
            if done is not None:
                done()
            return
        step = self._current = self._steps.popleft()
        if isinstance(step, _Reopen):
            step.channel._reopen(self._next)
        elif isinstance(step, _PrivateChannel):
            self._private_channel_step(step.open)
        elif isinstance(step, ConsumerRecord):
            self._consume(step)
        elif isinstance(step, _SETTINGS):
            self._channels[step.channel_number]._machine.call(step.method(), self._next, False)  # type: ignore[union-attr]
        else:
            self._declare(step)

    def _private_channel_step(self, open: bool) -> None:
        if open:
            chan = self._connection.channel(on_open_callback=self._next)
            chan._internal = True
            chan.add_on_close_callback(self._on_private_closed)
            self._private = chan
            return
        private, self._private = self._private, None
        if private is not None and private.is_open:
            private.close()
        self._next()

    def _declare(self, record: EntityRecord) -> None:
        assert self._private is not None and self._private._machine is not None
        token: Callable[[Any], None] = self._next
        if isinstance(record, QueueRecord) and record.server_named:
            token = lambda reply: self._queue_declared(record, reply)  # noqa: E731
        self._private._machine.call(record.method(), token, False)

    def _queue_declared(self, record: QueueRecord, reply: Any) -> None:
        new = str(reply.method.queue)
        if new != record.name:
            self.renamed_queues[record.name] = new
            LOGGER.info("Server-named queue %r came back as %r", record.name, new)
            self._ledger.rename_queue(record.name, new)
            self._steps = deque(_renamed_steps(self._steps, record.name, new))
        self._next()

    def _consume(self, record: ConsumerRecord) -> None:
        machine = self._channels[record.channel_number]._machine
        assert machine is not None
        method = record.method()
        machine.consume(
            method.queue,
            record.tag,
            record.auto_ack,
            record.exclusive,
            dict(record.arguments),
            record.token,
            lambda reply: self._consumed(record, reply),
        )

    def _consumed(self, record: ConsumerRecord, reply: Any) -> None:
        self._consuming[record.channel_number].append(record)
        self._next()

    # -- refusals -------------------------------------------------------

    def _on_private_closed(self, chan: Channel, error: BaseException) -> None:
        if self._cancelled or chan is not self._private:
            return
        self._private = None
        self._refused(error)
        self._steps.appendleft(_PrivateChannel(open=True))
        self._next()

    def channel_closed(self, chan: Channel, error: BaseException) -> None:
        """An application channel was closed by the broker during the replay."""
        if self._cancelled:
            return
        number = chan.channel_number
        if not isinstance(self._current, ConsumerRecord):
            # Re-opening the channel or its settings failed: it cannot come back.
            LOGGER.error("Recovery could not restore channel %d: %r", number, error)
            chan._close_suspended(error)
            self._steps = deque(s for s in self._steps if _channel_of(s) != number)
            self._next()
            return
        self._refused(error)
        # The broker dropped every consumer of the channel: restore the others.
        restored, self._consuming[number] = self._consuming[number], []
        self._steps.extendleft(reversed([_Reopen(chan), *self._settings[number], *restored]))
        self._next()

    def _refused(self, error: BaseException) -> None:
        record = self._current
        LOGGER.error("Recovery could not re-create %r: %r", record, error)
        hook = self._policy.on_topology_error
        if hook is not None and not isinstance(record, (*_SETTINGS, _Reopen, _PrivateChannel)):
            try:
                hook(record, error)  # type: ignore[arg-type]
            except Exception:
                LOGGER.exception("on_topology_error hook raised; recovery carries on")


def _channel_of(step: Step) -> int | None:
    if isinstance(step, _Reopen):
        return step.channel.channel_number
    if isinstance(step, (*_SETTINGS, ConsumerRecord)):
        return step.channel_number
    return None


def _renamed_steps(steps: deque[Step], old: str, new: str) -> list[Step]:
    result: list[Step] = []
    for step in steps:
        if isinstance(step, (_Reopen, _PrivateChannel)):
            result.append(step)
        else:
            result.extend(renamed([step], old, new))
    return result
