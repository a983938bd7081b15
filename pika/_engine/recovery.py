"""Automatic recovery: the backoff policy and the recovery state machine.

Theory of operation: a face owns one ``RecoveryMachine`` per connection with
recovery enabled and feeds it what happened, with the time:

    connection_lost(error, now)   an open connection went away
    tick(now)                     when ``next_deadline()`` has passed
    attempt_started(now)          the face began connecting (after AttemptDue)
    attempt_failed(error, now)    that attempt, or restoring topology, failed
    connection_opened(now)        the new connection is open
    topology_restored(now)        channels, QoS, topology and consumers are back
    stop(now)                     the application closed the connection

Each input returns the events it caused.  The machine never reads a clock,
never sleeps and never touches the global ``random``: jitter comes from the
injected ``random`` callable.  Its transitions are ``_TRANSITIONS``; an input
with no entry for the current state is a bug in the face and raises
``RecoveryStateError``.

    IDLE/RECOVERED --lost(recoverable)--> WAITING --tick: due--> (AttemptDue)
    WAITING --attempt_started--> CONNECTING --opened--> RESTORING --restored--> RECOVERED
    CONNECTING/RESTORING --failed/lost(recoverable)--> WAITING, or GAVE_UP at max_attempts
    any state --stop, or a non-recoverable error--> GAVE_UP (terminal; RecoveryGaveUp
    only if recovery had started: a client close of a healthy connection is no failure)

Which errors are recoverable (``is_recoverable``):

    ConnectionClosedByClient, ConnectionOpenAborted       never: the app asked
    ProbableAuthenticationError, ProbableAccessDeniedError,
    AuthenticationError, IncompatibleProtocolError        not on the first open
                                                          (a configuration
                                                          error); retried during
                                                          recovery (a restarting
                                                          broker refuses logins
                                                          until its users load)
    everything else: StreamLostError, ConnectionClosedByBroker (e.g. 320 from
    ``rabbitmqctl close_connection`` or a node shutdown), AMQPHeartbeatTimeout,
    ConnectionBlockedTimeout, OSError, a failed connection workflow     yes
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from pika import exceptions

from . import events as ev
from .policy import RandomSource, RecoveryPolicy

RecoveryEvents = list[ev.RecoveryEvent]

_NEVER = (exceptions.ConnectionClosedByClient, exceptions.ConnectionOpenAborted)
_NOT_ON_FIRST_OPEN = (
    exceptions.ProbableAuthenticationError,
    exceptions.ProbableAccessDeniedError,
    exceptions.AuthenticationError,
    exceptions.IncompatibleProtocolError,
)


def is_recoverable(error: BaseException | None, first_open: bool = False) -> bool:
    """Whether recovery should (re)connect after ``error`` (see the module table)."""
    if isinstance(error, _NEVER):
        return False
    return not (first_open and isinstance(error, _NOT_ON_FIRST_OPEN))


class RecoveryState(enum.Enum):
    """Where recovery stands."""

    IDLE = "idle"
    WAITING = "waiting"
    CONNECTING = "connecting"
    RESTORING = "restoring"
    RECOVERED = "recovered"
    GAVE_UP = "gave_up"


class RecoveryInput(enum.Enum):
    """What the face reports to the machine."""

    CONNECTION_LOST = "connection_lost"
    TICK = "tick"
    ATTEMPT_STARTED = "attempt_started"
    ATTEMPT_FAILED = "attempt_failed"
    CONNECTION_OPENED = "connection_opened"
    TOPOLOGY_RESTORED = "topology_restored"
    STOP = "stop"


class RecoveryStateError(RuntimeError):
    """An input that is not valid in the machine's state (a bug in the caller)."""


class RecoveryMachine:
    """The recovery of one connection, from loss to recovered or given up."""

    def __init__(self, policy: RecoveryPolicy, random: RandomSource, host_count: int = 1) -> None:
        if host_count < 1:
            raise ValueError(f"host_count must be >= 1, got {host_count!r}")
        self.policy = policy
        self.state = RecoveryState.IDLE
        self.attempt = 0
        self.last_error: BaseException | None = None
        self._random = random
        self._host_count = host_count
        self._deadline: float | None = None
        self._lost_at = 0.0

    # -- inputs ---------------------------------------------------------

    def connection_lost(self, error: BaseException | None, now: float) -> RecoveryEvents:
        """An open connection (or one being restored) went away."""
        return self._apply(RecoveryInput.CONNECTION_LOST, error, now)

    def tick(self, now: float) -> RecoveryEvents:
        """Time passed; emits RecoveryAttemptDue once the delay is over."""
        return self._apply(RecoveryInput.TICK, None, now)

    def attempt_started(self, now: float) -> RecoveryEvents:
        """The face started connecting for the current attempt."""
        return self._apply(RecoveryInput.ATTEMPT_STARTED, None, now)

    def attempt_failed(self, error: BaseException | None, now: float) -> RecoveryEvents:
        """The current attempt failed (connecting, or restoring the topology)."""
        return self._apply(RecoveryInput.ATTEMPT_FAILED, error, now)

    def connection_opened(self, now: float) -> RecoveryEvents:
        """The new connection is open; the face now restores channels and topology."""
        return self._apply(RecoveryInput.CONNECTION_OPENED, None, now)

    def topology_restored(self, now: float) -> RecoveryEvents:
        """Channels, settings, topology and consumers are back."""
        return self._apply(RecoveryInput.TOPOLOGY_RESTORED, None, now)

    def stop(self, now: float) -> RecoveryEvents:
        """The application closed the connection: stop recovering."""
        return self._apply(RecoveryInput.STOP, None, now)

    def next_deadline(self) -> float | None:
        """When ``tick`` should next run (None: no timer needed)."""
        return self._deadline

    @property
    def is_recovering(self) -> bool:
        """True from the loss until recovered or given up."""
        return self.state in _RECOVERING

    # -- transitions ----------------------------------------------------

    def _apply(
        self, what: RecoveryInput, error: BaseException | None, now: float
    ) -> RecoveryEvents:
        handler = _TRANSITIONS.get((self.state, what))
        if handler is None:
            raise RecoveryStateError(
                f"recovery: {what.value} is not valid in state {self.state.name}"
            )
        return handler(self, error, now)

    def _on_lost(self, error: BaseException | None, now: float) -> RecoveryEvents:
        self.last_error = error
        if not is_recoverable(error):
            return self._give_up(error, [])
        self.attempt = 0
        self._lost_at = now
        return self._schedule([ev.RecoveryStarted(error)], now)

    def _on_tick(self, error: BaseException | None, now: float) -> RecoveryEvents:
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        host = (self.attempt - 1) % self._host_count
        return [ev.RecoveryAttemptDue(self.attempt, host)]

    def _on_started(self, error: BaseException | None, now: float) -> RecoveryEvents:
        self._deadline = None
        self.state = RecoveryState.CONNECTING
        return []

    def _on_failed(self, error: BaseException | None, now: float) -> RecoveryEvents:
        self.last_error = error
        events: RecoveryEvents = [ev.RecoveryAttemptFailed(error, self.attempt)]
        limit = self.policy.max_attempts
        if not is_recoverable(error) or (limit is not None and self.attempt >= limit):
            return self._give_up(error, events)
        return self._schedule(events, now)

    def _on_opened(self, error: BaseException | None, now: float) -> RecoveryEvents:
        self.state = RecoveryState.RESTORING
        return []

    def _on_restored(self, error: BaseException | None, now: float) -> RecoveryEvents:
        self.state = RecoveryState.RECOVERED
        return [ev.Recovered(self.attempt, max(0.0, now - self._lost_at))]

    def _on_stop(self, error: BaseException | None, now: float) -> RecoveryEvents:
        return self._give_up(self.last_error, [])

    def _schedule(self, events: RecoveryEvents, now: float) -> RecoveryEvents:
        self.attempt += 1
        delay = self.policy.delay(self.attempt, self._random)
        self._deadline = now + delay
        self.state = RecoveryState.WAITING
        events.append(ev.RecoveryAttemptScheduled(delay, self.attempt))
        return events

    def _give_up(self, error: BaseException | None, events: RecoveryEvents) -> RecoveryEvents:
        was_recovering = self.state in _RECOVERING
        self.state = RecoveryState.GAVE_UP
        self._deadline = None
        if was_recovering:
            events.append(ev.RecoveryGaveUp(error, self.attempt))
        return events


_RECOVERING = frozenset({RecoveryState.WAITING, RecoveryState.CONNECTING, RecoveryState.RESTORING})

Transition = Callable[[RecoveryMachine, "BaseException | None", float], RecoveryEvents]

_S = RecoveryState
_I = RecoveryInput
_M = RecoveryMachine
_TRANSITIONS: dict[tuple[RecoveryState, RecoveryInput], Transition] = {
    (_S.IDLE, _I.CONNECTION_LOST): _M._on_lost,
    (_S.IDLE, _I.TICK): _M._on_tick,
    (_S.IDLE, _I.STOP): _M._on_stop,
    (_S.WAITING, _I.TICK): _M._on_tick,
    (_S.WAITING, _I.ATTEMPT_STARTED): _M._on_started,
    (_S.WAITING, _I.STOP): _M._on_stop,
    (_S.CONNECTING, _I.TICK): _M._on_tick,
    (_S.CONNECTING, _I.ATTEMPT_FAILED): _M._on_failed,
    (_S.CONNECTING, _I.CONNECTION_OPENED): _M._on_opened,
    (_S.CONNECTING, _I.STOP): _M._on_stop,
    (_S.RESTORING, _I.TICK): _M._on_tick,
    (_S.RESTORING, _I.ATTEMPT_FAILED): _M._on_failed,
    (_S.RESTORING, _I.CONNECTION_LOST): _M._on_failed,
    (_S.RESTORING, _I.TOPOLOGY_RESTORED): _M._on_restored,
    (_S.RESTORING, _I.STOP): _M._on_stop,
    (_S.RECOVERED, _I.CONNECTION_LOST): _M._on_lost,
    (_S.RECOVERED, _I.TICK): _M._on_tick,
    (_S.RECOVERED, _I.STOP): _M._on_stop,
    (_S.GAVE_UP, _I.TICK): _M._on_tick,
    (_S.GAVE_UP, _I.STOP): _M._on_stop,
}
