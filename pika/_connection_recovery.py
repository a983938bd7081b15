"""Automatic recovery for the callback-style ``Connection`` face (all adapters).

Theory of operation: a ``Connection`` whose parameters carry a
``RecoveryPolicy`` owns one ``ConnectionRecovery``.  The connection hands it
every stream termination first (``takes_over``); when the loss is
recoverable, recovery keeps the ``Channel`` objects (``Channel._suspend``),
reports unsettled confirms as outcome-unknown, swaps in a fresh engine and
drives the engine-layer ``RecoveryMachine``: its timer comes from the
adapter (``_adapter_call_later``), each due attempt reconnects through the
adapter's own ``_adapter_connect_stream`` (to the next host), and once the
new connection is open a ``TopologyReplay`` re-opens the channels and
replays the ledger.  The application's ``close()`` during recovery stops it
and ends with the usual close callbacks.  Protocol logic stays in the
engine; this module only sequences it.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pika import exceptions
from pika._callback_list import CallbackList
from pika._engine import events as ev
from pika._engine.ledger import TopologyLedger
from pika._engine.policy import RecoveryPolicy
from pika._engine.recovery import RecoveryMachine, RecoveryState, is_recoverable
from pika._engine.states import ChannelState
from pika._topology_replay import TopologyReplay

if TYPE_CHECKING:
    from pika._params import Parameters
    from pika.connection import Connection

LOGGER = logging.getLogger("pika.connection")

_LIVE = (ChannelState.OPEN, ChannelState.OPENING)
_ATTEMPTING = (RecoveryState.CONNECTING, RecoveryState.RESTORING)


class ConnectionRecovery:
    """Recovery of one connection: loss, backoff, reconnect, replay."""

    def __init__(self, connection: Connection, policy: RecoveryPolicy) -> None:
        self.connection = connection
        self.policy = policy
        self.ledger = TopologyLedger()
        self.machine = RecoveryMachine(policy, random.random)
        self.hosts: list[Parameters] = [connection.params]
        self.listeners = CallbackList("recovery")
        self.replay: TopologyReplay | None = None
        self.closing: exceptions.ConnectionClosedByClient | None = None
        self.app_closed = False  # the application called close(): never recover again
        self._timer: object | None = None

    # -- queries --------------------------------------------------------

    @property
    def active(self) -> bool:
        """True from the loss until recovered, given up or closed."""
        return self.machine.is_recovering

    def set_hosts(self, hosts: Sequence[Parameters]) -> None:
        """The endpoints to try in turn (``create_connection``'s configs)."""
        self.hosts = [copy.copy(host) for host in hosts] or [self.connection.params]
        self.machine = RecoveryMachine(self.policy, random.random, len(self.hosts))

    def snapshot(self) -> dict[int, ChannelState]:
        """Channel states just before the engine reports a loss."""
        return {n: m.state for n, m in self.connection._engine.channels.items()}

    # -- the termination hand-off ---------------------------------------

    def takes_over(self, events: list[ev.Event]) -> bool:
        """Whether this termination belongs to recovery rather than the close path."""
        if self.app_closed or not events:
            return False
        terminated = events[-1]
        if not isinstance(terminated, ev.ConnectionTerminated):
            return False
        state = self.machine.state
        if state in _ATTEMPTING:
            return True
        if state in (RecoveryState.IDLE, RecoveryState.RECOVERED):
            return terminated.was_open and is_recoverable(terminated.error)
        return False

    def on_lost(self, events: list[ev.Event], before: dict[int, ChannelState]) -> None:
        """A recoverable loss (or a failed attempt): suspend channels, schedule a retry."""
        terminated = events[-1]
        assert isinstance(terminated, ev.ConnectionTerminated)
        error = terminated.error
        if self.replay is not None:
            self.replay.cancel()
            self.replay = None
        connection = self.connection
        connection._engine = connection._new_engine()
        connection._opened = False
        now = connection._adapter_now()
        # The machine moves first, so that a listener run while the channels are
        # suspended (say, one that calls close()) already sees a recovering connection.
        if self.machine.state in _ATTEMPTING:
            LOGGER.warning("Recovery attempt %d failed: %r", self.machine.attempt, error)
            outcome = self.machine.attempt_failed(error, now)
        else:
            LOGGER.warning("Connection lost (%r); recovering", error)
            outcome = self.machine.connection_lost(error, now)
        self._suspend_channels(events[:-1], before, error)
        connection._end_attempt(error)
        if self.closing is None:
            self._handle(outcome)

    def _suspend_channels(
        self, events: list[ev.Event], before: dict[int, ChannelState], error: Exception
    ) -> None:
        channels = self.connection._channels
        for event in events:
            chan = channels.get(getattr(event, "channel_number", -1))
            if chan is None:
                continue
            if isinstance(event, ev.ChannelClosed) and (
                chan._recovering
                or (before.get(event.channel_number) in _LIVE and not chan._internal)
            ):
                chan._suspend(error)
            else:
                chan._on_event(event)

    # -- the machine's outputs ------------------------------------------

    def _handle(self, events: list[ev.RecoveryEvent]) -> None:
        for event in events:
            if isinstance(event, ev.RecoveryAttemptDue):
                self._start_attempt(event)
                continue
            self.listeners.run(self.connection, event)
            if isinstance(event, ev.RecoveryGaveUp):
                LOGGER.error("Recovery gave up after %d attempts: %r", event.attempts, event.error)
                self._finish(event.error or exceptions.AMQPConnectionError("recovery gave up"))
                return
            if isinstance(event, ev.Recovered):
                LOGGER.info("Connection recovered after %d attempt(s)", event.attempts)
        self._arm_timer()

    def _arm_timer(self) -> None:
        self._cancel_timer()
        deadline = self.machine.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - self.connection._adapter_now())
            self._timer = self.connection._adapter_call_later(delay, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self.connection._adapter_remove_timeout(self._timer)
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        if self.machine.state is RecoveryState.WAITING:
            self._handle(self.machine.tick(self.connection._adapter_now()))

    def _start_attempt(self, due: ev.RecoveryAttemptDue) -> None:
        connection = self.connection
        self.machine.attempt_started(connection._adapter_now())
        if len(self.hosts) > 1:
            connection.params = copy.copy(self.hosts[due.host_index])
        LOGGER.info(
            "Recovery attempt %d: connecting to %s:%s",
            due.attempt,
            connection.params.host,
            connection.params.port,
        )
        connection._engine = connection._new_engine()
        connection._opened = False
        connection._adapter_connect_stream()

    # -- the new connection ---------------------------------------------

    def on_opened(self) -> None:
        """The new connection is open: restore channels and topology."""
        self.machine.connection_opened(self.connection._adapter_now())
        channels = [c for _, c in sorted(self.connection._channels.items()) if c._recovering]
        self.replay = TopologyReplay(self.connection, self.ledger, self.policy, channels)
        self.replay.start(self._on_restored)

    def _on_restored(self) -> None:
        renamed = self.replay.renamed_queues if self.replay is not None else {}
        self.replay = None
        for chan in list(self.connection._channels.values()):
            if chan._recovering:
                chan._resume()
        events = self.machine.topology_restored(self.connection._adapter_now())
        self._handle(
            [
                e._replace(renamed_queues=renamed) if isinstance(e, ev.Recovered) else e
                for e in events
            ]
        )

    # -- the application closes -----------------------------------------

    def stop_for_close(self, reply_code: int, reply_text: str) -> None:
        """``Connection.close()`` during recovery: stop, and close with these words."""
        self.closing = exceptions.ConnectionClosedByClient(reply_code, reply_text)
        self.app_closed = True
        self._cancel_timer()
        if self.replay is not None:
            self.replay.cancel()
            self.replay = None
        for event in self.machine.stop(self.connection._adapter_now()):
            self.listeners.run(self.connection, event)

    def after_close(self) -> None:
        """The stream of a recovery-time close is gone: close what was still suspended."""
        closing = self.closing or exceptions.ConnectionClosedByClient(200, "Normal shutdown")
        self._close_suspended(
            exceptions.ChannelClosedByClient(closing.reply_code, closing.reply_text)
        )

    def _finish(self, error: BaseException) -> None:
        """Recovery is over without a connection: report every suspended channel, then it."""
        self._cancel_timer()
        connection = self.connection
        connection._engine.connection_lost(None)  # the spare engine: CLOSED
        self._close_suspended(error)
        connection._channels.clear()
        connection._on_close.run(connection, error)

    def _close_suspended(self, error: BaseException) -> None:
        for chan in list(self.connection._channels.values()):
            if chan._recovering:
                chan._close_suspended(error)
