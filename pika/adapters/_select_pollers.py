"""The pollers behind ``pika.adapters.select_connection.IOLoop``.

Each poller watches file descriptors with one OS mechanism (select, poll, epoll or
kqueue), waits up to a timeout, and dispatches ``handler(fd, events)`` with pika's
event bits. A handler removed while a batch of events is being dispatched is not
called for the events already collected: the fd may meanwhile have been closed
and its number reused.
"""

from __future__ import annotations

import abc
import logging
import math
import select
from collections.abc import Callable
from typing import Any

# Log under the public module that re-exports these classes.
LOGGER = logging.getLogger("pika.adapters.select_connection")

Handler = Callable[[int, int], Any]

# kqueue names exist only on BSD/macOS; reach them untyped so Linux type checks pass.
_SELECT: Any = select


class PollEvents:
    """Event bits used by the IOLoop and its pollers."""

    READ: int = getattr(select, "POLLIN", 0x01)
    WRITE: int = getattr(select, "POLLOUT", 0x04)
    ERROR: int = getattr(select, "POLLERR", 0x08)
    HANGUP: int = getattr(select, "POLLHUP", 0x10)


_NVAL: int = getattr(select, "POLLNVAL", 0x20)
_PRI: int = getattr(select, "POLLPRI", 0x02)


def _from_poll_mask(mask: int) -> int:
    """Translate poll/epoll bits; a hangup also means "reading will show EOF"."""
    events = 0
    if mask & (PollEvents.READ | _PRI):
        events |= PollEvents.READ
    if mask & PollEvents.WRITE:
        events |= PollEvents.WRITE
    if mask & (PollEvents.ERROR | _NVAL):
        events |= PollEvents.ERROR
    if mask & PollEvents.HANGUP:
        events |= PollEvents.HANGUP | PollEvents.READ
    return events


# poll/epoll masks translated once: a tuple index per event instead of a call.
_MASK_BITS = (
    PollEvents.READ | _PRI | PollEvents.WRITE | PollEvents.ERROR | _NVAL | PollEvents.HANGUP
)
_POLL_MASKS = tuple(_from_poll_mask(mask) for mask in range(_MASK_BITS + 1))


class _PollerBase(abc.ABC):
    """Bookkeeping and dispatch shared by the concrete pollers."""

    #: Longest single wait, in seconds, so that a missed wake-up cannot stall forever.
    _MAX_POLL_TIMEOUT = 5
    #: Multiplier from seconds to the unit the OS call takes.
    POLL_TIMEOUT_MULT = 1

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._interest: dict[int, int] = {}
        self._dispatching = False
        self._stale: set[int] = set()

    def add_handler(self, fd: int, handler: Handler, events: int) -> None:
        """Watch ``fd`` for ``events``, calling ``handler(fd, events)``."""
        if fd in self._handlers:
            raise ValueError(f"fd {fd} is already registered; use update_handler()")
        self._register(fd, events)
        self._handlers[fd] = handler
        self._interest[fd] = events

    def update_handler(self, fd: int, events: int) -> None:
        """Replace the event mask watched on ``fd``."""
        if fd not in self._handlers:
            raise ValueError(f"fd {fd} is not registered")
        self._modify(fd, events)
        self._interest[fd] = events

    def remove_handler(self, fd: int) -> None:
        """Stop watching ``fd`` (no-op if it is not watched)."""
        if self._handlers.pop(fd, None) is None:
            LOGGER.debug("remove_handler: fd %d is not registered", fd)
            return
        events = self._interest.pop(fd)
        if self._dispatching:
            self._stale.add(fd)
        try:
            self._unregister(fd, events)
        except (OSError, ValueError, KeyError) as exc:
            # The fd may already be closed; the OS forgot it on its own.
            LOGGER.debug("Unregistering fd %d: %r", fd, exc)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for events and dispatch them."""
        if timeout > self._MAX_POLL_TIMEOUT:
            timeout = self._MAX_POLL_TIMEOUT
        elif timeout < 0.0:
            timeout = 0.0
        self._dispatch(self._wait(timeout))

    def close(self) -> None:
        """Forget every handler and release OS resources."""
        self._handlers.clear()
        self._interest.clear()

    def _dispatch(self, ready: list[tuple[int, int]]) -> None:
        if not ready:
            return
        self._dispatching = True  # _stale is empty: the finally below clears it
        try:
            for fd, events in ready:
                if fd in self._stale:
                    continue
                handler = self._handlers.get(fd)
                if handler is None:
                    continue
                events &= self._interest[fd] | PollEvents.ERROR | PollEvents.HANGUP
                if events:
                    handler(fd, events)
        finally:
            self._dispatching = False
            self._stale.clear()

    @abc.abstractmethod
    def _register(self, fd: int, events: int) -> None: ...

    @abc.abstractmethod
    def _modify(self, fd: int, events: int) -> None: ...

    @abc.abstractmethod
    def _unregister(self, fd: int, events: int) -> None: ...

    @abc.abstractmethod
    def _wait(self, timeout: float) -> list[tuple[int, int]]:
        """Block up to ``timeout`` seconds; return ``(fd, events)`` pairs."""


class SelectPoller(_PollerBase):
    """Poller on ``select.select`` (portable, including Windows)."""

    POLL_TIMEOUT_MULT = 1

    def _register(self, fd: int, events: int) -> None:
        pass

    def _modify(self, fd: int, events: int) -> None:
        pass

    def _unregister(self, fd: int, events: int) -> None:
        pass

    def _wait(self, timeout: float) -> list[tuple[int, int]]:
        readers = [fd for fd, ev in self._interest.items() if ev & PollEvents.READ]
        writers = [fd for fd, ev in self._interest.items() if ev & PollEvents.WRITE]
        errors = list(self._interest)
        if not errors:
            # select() with three empty lists fails on Windows; nothing to wait for anyway.
            return []
        readable, writable, failed = select.select(
            readers, writers, errors, timeout * self.POLL_TIMEOUT_MULT
        )
        ready: dict[int, int] = {}
        for fds, bit in (
            (readable, PollEvents.READ),
            (writable, PollEvents.WRITE),
            (failed, PollEvents.ERROR),
        ):
            for fd in fds:
                ready[fd] = ready.get(fd, 0) | bit
        return list(ready.items())


class PollPoller(_PollerBase):
    """Poller on ``select.poll`` (timeouts in milliseconds)."""

    POLL_TIMEOUT_MULT = 1000

    def __init__(self) -> None:
        super().__init__()
        self._poll: Any = self._create_poll()

    def _create_poll(self) -> Any:
        return select.poll()

    def _register(self, fd: int, events: int) -> None:
        self._poll.register(fd, events)

    def _modify(self, fd: int, events: int) -> None:
        self._poll.modify(fd, events)

    def _unregister(self, fd: int, events: int) -> None:
        self._poll.unregister(fd)

    def _wait(self, timeout: float) -> list[tuple[int, int]]:
        # Round up: a sub-unit timeout must not turn into a busy loop of zero waits.
        pairs = self._poll.poll(math.ceil(timeout * self.POLL_TIMEOUT_MULT))
        return [(fd, _POLL_MASKS[mask & _MASK_BITS]) for fd, mask in pairs]

    def close(self) -> None:
        super().close()
        closer = getattr(self._poll, "close", None)
        if closer is not None:
            closer()


class EPollPoller(PollPoller):
    """Poller on ``select.epoll`` (Linux; timeouts in seconds)."""

    POLL_TIMEOUT_MULT = 1

    def _create_poll(self) -> Any:
        return select.epoll()

    def native_poll(self) -> Callable[[float], list[tuple[int, int]]]:
        """The OS wait itself: ``f(timeout_seconds)`` returns raw ``(fd, epoll mask)`` pairs.

        For a driver that handles the common readiness itself and passes anything
        else to ``dispatch_native``.
        """
        wait: Callable[[float], list[tuple[int, int]]] = self._poll.poll
        return wait

    def dispatch_native(self, pairs: list[tuple[int, int]]) -> None:
        """Dispatch pairs obtained from ``native_poll()`` like ``poll()`` would."""
        self._dispatch([(fd, _POLL_MASKS[mask & _MASK_BITS]) for fd, mask in pairs])

    def _wait(self, timeout: float) -> list[tuple[int, int]]:
        pairs = self._poll.poll(timeout * self.POLL_TIMEOUT_MULT)
        return [(fd, _POLL_MASKS[mask & _MASK_BITS]) for fd, mask in pairs]


class KQueuePoller(_PollerBase):
    """Poller on ``select.kqueue`` (BSD and macOS)."""

    POLL_TIMEOUT_MULT = 1

    def __init__(self) -> None:
        super().__init__()
        self._kqueue: Any = _SELECT.kqueue()

    def _register(self, fd: int, events: int) -> None:
        self._apply(fd, 0, events)

    def _modify(self, fd: int, events: int) -> None:
        self._apply(fd, self._interest.get(fd, 0), events)

    def _unregister(self, fd: int, events: int) -> None:
        self._apply(fd, events, 0)

    def _apply(self, fd: int, old: int, new: int) -> None:
        """Add or delete the kqueue filters whose bit changed between ``old`` and ``new``."""
        changes = []
        for bit, kq_filter in (
            (PollEvents.READ, _SELECT.KQ_FILTER_READ),
            (PollEvents.WRITE, _SELECT.KQ_FILTER_WRITE),
        ):
            if new & bit and not old & bit:
                changes.append(_SELECT.kevent(fd, kq_filter, _SELECT.KQ_EV_ADD))
            elif old & bit and not new & bit:
                changes.append(_SELECT.kevent(fd, kq_filter, _SELECT.KQ_EV_DELETE))
        if changes:
            self._kqueue.control(changes, 0)

    def _wait(self, timeout: float) -> list[tuple[int, int]]:
        kevents = self._kqueue.control(None, 1000, timeout * self.POLL_TIMEOUT_MULT)
        ready: dict[int, int] = {}
        for kev in kevents:
            bit = 0
            if kev.filter == _SELECT.KQ_FILTER_READ:
                bit |= PollEvents.READ
            elif kev.filter == _SELECT.KQ_FILTER_WRITE:
                bit |= PollEvents.WRITE
            if kev.flags & _SELECT.KQ_EV_ERROR:
                bit |= PollEvents.ERROR
            ready[kev.ident] = ready.get(kev.ident, 0) | bit
        return list(ready.items())

    def close(self) -> None:
        super().close()
        self._kqueue.close()
