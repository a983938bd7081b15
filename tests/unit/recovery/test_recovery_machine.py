"""RecoveryPolicy validation and backoff; RecoveryMachine transitions."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pika import exceptions
from pika._engine import events as ev
from pika._engine.recovery import (
    _TRANSITIONS,
    RecoveryInput,
    RecoveryMachine,
    RecoveryPolicy,
    RecoveryState,
    RecoveryStateError,
    is_recoverable,
)

LOST = exceptions.StreamLostError("Transport indicated EOF")


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


# -- policy -------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = RecoveryPolicy()
    assert (policy.initial_delay, policy.multiplier, policy.max_delay, policy.jitter) == (
        1.0,
        2.0,
        30.0,
        0.2,
    )
    assert policy.max_attempts is None and policy.recover_topology
    assert policy.publish_wait_timeout == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"initial_delay": -1}, ValueError, "initial_delay must be >= 0"),
        ({"initial_delay": "1"}, TypeError, "initial_delay must be a number"),
        ({"initial_delay": True}, TypeError, "initial_delay must be a number"),
        ({"initial_delay": float("nan")}, ValueError, "initial_delay must be finite"),
        ({"multiplier": 0.5}, ValueError, "multiplier must be >= 1"),
        ({"multiplier": float("inf")}, ValueError, "multiplier must be finite"),
        ({"max_delay": -2}, ValueError, "max_delay must be >= 0"),
        ({"initial_delay": 5, "max_delay": 1}, ValueError, "max_delay .* must be >= initial"),
        ({"jitter": 1.5}, ValueError, r"jitter must be in \[0, 1\]"),
        ({"jitter": None}, TypeError, "jitter must be a number"),
        ({"max_attempts": 0}, ValueError, "max_attempts must be >= 1"),
        ({"max_attempts": 2.0}, TypeError, "max_attempts must be an int or None"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int or None"),
        ({"recover_topology": 1}, TypeError, "recover_topology must be a bool"),
        ({"publish_wait_timeout": -0.1}, ValueError, "publish_wait_timeout must be >= 0"),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RecoveryPolicy(**kwargs)


def test_policy_is_frozen() -> None:
    policy = RecoveryPolicy()
    with pytest.raises(AttributeError):
        policy.jitter = 0.5  # type: ignore[misc]


def test_backoff_grows_to_the_cap() -> None:
    policy = RecoveryPolicy(initial_delay=0.5, multiplier=3.0, max_delay=10.0, jitter=0.0)
    assert [policy.delay(n, fixed(0.9)) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert policy.base_delay(10_000) == 10.0  # no overflow


def test_jitter_shortens_by_at_most_its_fraction() -> None:
    policy = RecoveryPolicy(initial_delay=10.0, max_delay=10.0, jitter=0.2)
    assert policy.delay(1, fixed(0.0)) == 10.0
    assert policy.delay(1, fixed(0.5)) == pytest.approx(9.0)
    assert policy.delay(1, fixed(0.999999)) == pytest.approx(8.0, abs=1e-4)


def test_a_random_source_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"random source returned 1\.0"):
        RecoveryPolicy().delay(1, fixed(1.0))


@given(
    st.floats(0, 5),
    st.floats(1, 4),
    st.floats(0, 1),
    st.integers(1, 200),
    st.floats(0, 1, exclude_max=True),
)
def test_delay_bounds(initial: float, mult: float, jitter: float, attempt: int, r: float) -> None:
    policy = RecoveryPolicy(initial, mult, max(initial, 7.0), jitter)
    delay = policy.delay(attempt, fixed(r))
    base = policy.base_delay(attempt)
    assert base * (1 - jitter) - 1e-9 <= delay <= base <= policy.max_delay


# -- recoverable errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "first_open", "expected"),
    [
        (LOST, False, True),
        (exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED"), False, True),
        (exceptions.AMQPHeartbeatTimeout("missed"), False, True),
        (OSError("reset"), False, True),
        (None, False, True),
        (exceptions.ConnectionClosedByClient(200, "Normal shutdown"), False, False),
        (exceptions.ConnectionOpenAborted("closed while opening"), False, False),
        (exceptions.ProbableAuthenticationError("bad login"), True, False),
        (exceptions.ProbableAccessDeniedError("vhost"), True, False),
        (exceptions.AuthenticationError("PLAIN"), True, False),
        (exceptions.ProbableAuthenticationError("booting"), False, True),
    ],
)
def test_is_recoverable(error: BaseException | None, first_open: bool, expected: bool) -> None:
    assert is_recoverable(error, first_open) is expected


# -- machine ------------------------------------------------------------------


def machine(**policy: Any) -> RecoveryMachine:
    return RecoveryMachine(RecoveryPolicy(jitter=0.0, **policy), fixed(0.0), host_count=2)


def test_full_recovery_cycle() -> None:
    m = machine()
    assert m.next_deadline() is None and not m.is_recovering
    assert m.connection_lost(LOST, 100.0) == [
        ev.RecoveryStarted(LOST),
        ev.RecoveryAttemptScheduled(1.0, 1),
    ]
    assert m.state is RecoveryState.WAITING and m.next_deadline() == 101.0 and m.is_recovering
    assert m.tick(100.5) == []
    assert m.tick(101.0) == [ev.RecoveryAttemptDue(1, 0)]
    assert m.next_deadline() is None and m.tick(102.0) == []
    assert m.attempt_started(101.0) == [] and m.state is RecoveryState.CONNECTING
    refused = ConnectionRefusedError("refused")
    assert m.attempt_failed(refused, 101.5) == [
        ev.RecoveryAttemptFailed(refused, 1),
        ev.RecoveryAttemptScheduled(2.0, 2),
    ]
    assert m.tick(103.5) == [ev.RecoveryAttemptDue(2, 1)]  # the next host
    m.attempt_started(103.5)
    assert m.connection_opened(104.0) == [] and m.state is RecoveryState.RESTORING
    assert m.topology_restored(104.5) == [ev.Recovered(2, 4.5)]
    assert m.state is RecoveryState.RECOVERED and not m.is_recovering
    # A second loss starts a fresh cycle from attempt 1.
    assert m.connection_lost(LOST, 200.0)[-1] == ev.RecoveryAttemptScheduled(1.0, 1)


def test_gives_up_after_max_attempts() -> None:
    m = machine(max_attempts=2)
    m.connection_lost(LOST, 0.0)
    for attempt in (1, 2):
        m.tick(1000.0)
        m.attempt_started(1000.0)
        events = m.attempt_failed(LOST, 1000.0)
        assert events[0] == ev.RecoveryAttemptFailed(LOST, attempt)
    assert events[-1] == ev.RecoveryGaveUp(LOST, 2)
    assert m.state is RecoveryState.GAVE_UP and m.next_deadline() is None


def test_loss_while_restoring_counts_as_a_failed_attempt() -> None:
    m = machine()
    m.connection_lost(LOST, 0.0)
    m.attempt_started(1.0)
    m.connection_opened(1.0)
    events = m.connection_lost(LOST, 2.0)
    assert events == [ev.RecoveryAttemptFailed(LOST, 1), ev.RecoveryAttemptScheduled(2.0, 2)]


def test_non_recoverable_errors_end_recovery() -> None:
    client_close = exceptions.ConnectionClosedByClient(200, "bye")
    m = machine()
    assert m.connection_lost(client_close, 0.0) == []  # nothing to recover, no failure
    assert m.state is RecoveryState.GAVE_UP
    m = machine()
    m.connection_lost(LOST, 0.0)
    m.attempt_started(1.0)
    aborted = exceptions.ConnectionOpenAborted("closed")
    assert m.attempt_failed(aborted, 1.0)[-1] == ev.RecoveryGaveUp(aborted, 1)


def test_stop_during_recovery_gives_up_and_stop_when_idle_is_quiet() -> None:
    m = machine()
    m.connection_lost(LOST, 0.0)
    assert m.stop(0.5) == [ev.RecoveryGaveUp(LOST, 1)]
    assert m.stop(0.6) == []  # idempotent
    idle = machine()
    assert idle.stop(0.0) == [] and idle.state is RecoveryState.GAVE_UP


def test_illegal_input_raises_a_clear_error() -> None:
    m = machine()
    with pytest.raises(RecoveryStateError, match="attempt_started is not valid in state IDLE"):
        m.attempt_started(0.0)
    m.connection_lost(LOST, 0.0)
    with pytest.raises(RecoveryStateError, match="connection_lost is not valid in state WAITING"):
        m.connection_lost(LOST, 0.0)


def test_host_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="host_count"):
        RecoveryMachine(RecoveryPolicy(), fixed(0.0), host_count=0)


def test_jitter_comes_from_the_injected_source() -> None:
    draws = iter([0.0, 0.5])
    m = RecoveryMachine(RecoveryPolicy(initial_delay=4.0, jitter=0.5), lambda: next(draws))
    assert m.connection_lost(LOST, 0.0)[-1] == ev.RecoveryAttemptScheduled(4.0, 1)
    m.attempt_started(4.0)
    assert m.attempt_failed(LOST, 4.0)[-1] == ev.RecoveryAttemptScheduled(6.0, 2)


# -- state x input sweep ------------------------------------------------------

ROUTES: dict[RecoveryState, list[str]] = {
    RecoveryState.IDLE: [],
    RecoveryState.WAITING: ["lost"],
    RecoveryState.CONNECTING: ["lost", "started"],
    RecoveryState.RESTORING: ["lost", "started", "opened"],
    RecoveryState.RECOVERED: ["lost", "started", "opened", "restored"],
    RecoveryState.GAVE_UP: ["stop"],
}
STEPS: dict[str, Callable[[RecoveryMachine], object]] = {
    "lost": lambda m: m.connection_lost(LOST, 0.0),
    "started": lambda m: m.attempt_started(1.0),
    "opened": lambda m: m.connection_opened(1.0),
    "restored": lambda m: m.topology_restored(1.0),
    "stop": lambda m: m.stop(0.0),
}
INPUTS: dict[RecoveryInput, Callable[[RecoveryMachine, BaseException | None], list[Any]]] = {
    RecoveryInput.CONNECTION_LOST: lambda m, e: m.connection_lost(e, 5.0),
    RecoveryInput.TICK: lambda m, e: m.tick(5.0),
    RecoveryInput.ATTEMPT_STARTED: lambda m, e: m.attempt_started(5.0),
    RecoveryInput.ATTEMPT_FAILED: lambda m, e: m.attempt_failed(e, 5.0),
    RecoveryInput.CONNECTION_OPENED: lambda m, e: m.connection_opened(5.0),
    RecoveryInput.TOPOLOGY_RESTORED: lambda m, e: m.topology_restored(5.0),
    RecoveryInput.STOP: lambda m, e: m.stop(5.0),
}
ALLOWED_TARGETS: dict[tuple[RecoveryState, RecoveryInput], set[RecoveryState]] = {
    (RecoveryState.IDLE, RecoveryInput.CONNECTION_LOST): {
        RecoveryState.WAITING,
        RecoveryState.GAVE_UP,
    },
    (RecoveryState.RECOVERED, RecoveryInput.CONNECTION_LOST): {
        RecoveryState.WAITING,
        RecoveryState.GAVE_UP,
    },
    (RecoveryState.WAITING, RecoveryInput.ATTEMPT_STARTED): {RecoveryState.CONNECTING},
    (RecoveryState.CONNECTING, RecoveryInput.CONNECTION_OPENED): {RecoveryState.RESTORING},
    (RecoveryState.RESTORING, RecoveryInput.TOPOLOGY_RESTORED): {RecoveryState.RECOVERED},
}
ERRORS = st.sampled_from(
    [LOST, None, exceptions.ConnectionClosedByClient(200, "x"), OSError("boom")]
)


def at(state: RecoveryState, max_attempts: int | None) -> RecoveryMachine:
    m = RecoveryMachine(RecoveryPolicy(max_attempts=max_attempts), fixed(0.25))
    for step in ROUTES[state]:
        STEPS[step](m)
    assert m.state is state
    return m


def expected_targets(state: RecoveryState, what: RecoveryInput) -> set[RecoveryState]:
    if what is RecoveryInput.TICK:
        return {state}
    if what is RecoveryInput.STOP:
        return {RecoveryState.GAVE_UP}
    if what in (RecoveryInput.ATTEMPT_FAILED, RecoveryInput.CONNECTION_LOST) and state in (
        RecoveryState.CONNECTING,
        RecoveryState.RESTORING,
    ):
        return {RecoveryState.WAITING, RecoveryState.GAVE_UP}
    return ALLOWED_TARGETS[(state, what)]


def test_the_table_covers_the_expected_pairs() -> None:
    legal = {
        (s, i)
        for s, i in itertools.product(RecoveryState, RecoveryInput)
        if i in (RecoveryInput.TICK, RecoveryInput.STOP)
        or (s, i) in ALLOWED_TARGETS
        or (
            s in (RecoveryState.CONNECTING, RecoveryState.RESTORING)
            and i is RecoveryInput.ATTEMPT_FAILED
        )
        or (s is RecoveryState.RESTORING and i is RecoveryInput.CONNECTION_LOST)
    }
    assert set(_TRANSITIONS) == legal


@given(
    st.sampled_from(list(RecoveryState)),
    st.sampled_from(list(RecoveryInput)),
    ERRORS,
    st.sampled_from([None, 1, 3]),
)
def test_state_by_input_sweep(
    state: RecoveryState, what: RecoveryInput, error: BaseException | None, limit: int | None
) -> None:
    m = at(state, limit)
    if (state, what) not in _TRANSITIONS:
        with pytest.raises(RecoveryStateError, match=f"{what.value} is not valid in state"):
            INPUTS[what](m, error)
        assert m.state is state  # an illegal input changes nothing
        return
    events = INPUTS[what](m, error)
    assert m.state in expected_targets(state, what)
    assert all(isinstance(e, ev.RecoveryEvent.__args__) for e in events)
    if m.next_deadline() is not None:
        assert m.state is RecoveryState.WAITING
    if m.state is RecoveryState.GAVE_UP:
        assert not m.is_recovering
