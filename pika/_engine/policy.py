"""The automatic-recovery policy: backoff, hosts, topology filter and hooks.

Kept apart from the recovery machine so that connection parameters can hold
a policy without importing the protocol layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import EntityRecord, RecordFilter

RandomSource = Callable[[], float]
TopologyErrorHook = Callable[["EntityRecord", BaseException], object]


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"RecoveryPolicy.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"RecoveryPolicy.{name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RecoveryPolicy:
    """When and how often to try to recover a lost connection.

    The delay before attempt n is ``initial_delay * multiplier**(n-1)``,
    capped at ``max_delay``, then shortened by up to ``jitter`` (a fraction)
    so clients dropped together do not reconnect in lock-step; it never
    exceeds ``max_delay``.  ``max_attempts=None`` tries forever.
    ``publish_wait_timeout`` is how long a publish during recovery may wait
    for it to finish (0: fail at once with ConnectionRecoveringError); only
    the blocking faces can wait, the callback-style ones always fail at once.
    ``topology_filter(record)`` returns False for entities not to re-create;
    ``on_topology_error(record, error)`` hears about each re-creation that
    the broker refused (recovery logs it and carries on without it).
    """

    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.2
    max_attempts: int | None = None
    recover_topology: bool = True
    publish_wait_timeout: float = 0.0
    topology_filter: RecordFilter | None = None
    on_topology_error: TopologyErrorHook | None = None

    def __post_init__(self) -> None:
        self._check_delays()
        for name in ("topology_filter", "on_topology_error"):
            hook = getattr(self, name)
            if hook is not None and not callable(hook):
                raise TypeError(f"RecoveryPolicy.{name} must be callable or None, got {hook!r}")
        jitter = _number("jitter", self.jitter)
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"RecoveryPolicy.jitter must be in [0, 1], got {self.jitter!r}")
        attempts = self.max_attempts
        if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int)):
            raise TypeError(f"RecoveryPolicy.max_attempts must be an int or None, got {attempts!r}")
        if attempts is not None and attempts < 1:
            raise ValueError(f"RecoveryPolicy.max_attempts must be >= 1, got {attempts!r}")
        if not isinstance(self.recover_topology, bool):
            raise TypeError(
                f"RecoveryPolicy.recover_topology must be a bool, got {self.recover_topology!r}"
            )

    def _check_delays(self) -> None:
        for name in ("initial_delay", "max_delay", "publish_wait_timeout"):
            if _number(name, getattr(self, name)) < 0:
                raise ValueError(f"RecoveryPolicy.{name} must be >= 0, got {getattr(self, name)!r}")
        if _number("multiplier", self.multiplier) < 1.0:
            raise ValueError(f"RecoveryPolicy.multiplier must be >= 1, got {self.multiplier!r}")
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"RecoveryPolicy.max_delay ({self.max_delay!r}) must be >= "
                f"initial_delay ({self.initial_delay!r})"
            )

    def base_delay(self, attempt: int) -> float:
        """The delay before ``attempt`` (1-based) without jitter."""
        try:
            delay = self.initial_delay * self.multiplier ** (attempt - 1)
        except OverflowError:
            return float(self.max_delay)
        return float(min(delay, self.max_delay))

    def delay(self, attempt: int, random: RandomSource) -> float:
        """The jittered delay before ``attempt``; ``random()`` is in [0, 1)."""
        fraction = random()
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"the recovery random source returned {fraction!r}, not [0, 1)")
        return self.base_delay(attempt) * (1.0 - self.jitter * fraction)
