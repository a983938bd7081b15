"""Futures for publishes whose outcome the caller wants to wait on.

Only the I/O thread touches a ``ConfirmWaiters``.  The engine does the
protocol work: it numbers publishes, turns each Basic.Ack/Nack into an
inclusive tag range and attaches the Basic.Return that preceded an Ack.  Here
each tag in the range settles its future: an Ack resolves it with the Ack
frame, an Ack with a Return fails it with UnroutableError, a Nack with
NackError.  If the channel closes first the outcome is unknown and the future
fails with the close reason; if the connection drops and automatic recovery
takes over, it fails with PublishOutcomeUnknownError for its tag range.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, NamedTuple

from pika import exceptions, spec
from pika._engine import events as ev
from pika.adapters._threadsafe_calls import fail, resolve

__all__ = ["ConfirmWaiters", "ReturnedMessage"]


class ReturnedMessage(NamedTuple):
    """A message in UnroutableError/NackError ``messages``.

    ``method`` is the broker's Basic.Return for an unroutable message, and the
    Basic.Nack that refused it for a nacked one.
    """

    method: Any
    properties: spec.BasicProperties
    body: bytes


class _Waiter(NamedTuple):
    future: concurrent.futures.Future[Any]
    properties: spec.BasicProperties
    body: bytes


class ConfirmWaiters:
    """Confirm tag -> the future of the publish that got it."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[int, _Waiter] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def track(
        self,
        tag: int,
        future: concurrent.futures.Future[Any],
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """Remember the future of the publish that got confirm tag ``tag``."""
        self._waiting[tag] = _Waiter(future, properties, body)

    def settle(self, event: ev.PublishConfirmed) -> None:
        """Settle every waiting publish in the event's tag range."""
        if not self._waiting:
            return
        for tag in self._tags_between(event.first_tag, event.last_tag):
            waiter = self._waiting.pop(tag)
            self._settle_one(tag, waiter, event)

    def fail_range(self, first: int, last: int, error: BaseException) -> None:
        """Fail the waiting publishes with tags ``first..last`` (inclusive) with ``error``."""
        if not self._waiting:
            return
        for tag in self._tags_between(first, last):
            fail(self._waiting.pop(tag).future, error)

    def span(self) -> tuple[int, int] | None:
        """The lowest and highest waiting tags, or None when nothing waits."""
        if not self._waiting:
            return None
        return min(self._waiting), max(self._waiting)

    def fail_all(self, error: BaseException) -> None:
        """The channel closed: every waiting outcome is unknown."""
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            fail(waiter.future, error)

    def _tags_between(self, first: int, last: int) -> list[int]:
        if last - first + 1 <= len(self._waiting):
            return [tag for tag in range(first, last + 1) if tag in self._waiting]
        return sorted(tag for tag in self._waiting if first <= tag <= last)

    @staticmethod
    def _settle_one(tag: int, waiter: _Waiter, event: ev.PublishConfirmed) -> None:
        if not event.acked:
            nacked = ReturnedMessage(event.frame.method, waiter.properties, waiter.body)
            fail(waiter.future, exceptions.NackError([nacked]))
        elif event.returned is not None and tag == event.last_tag:
            returned = event.returned
            message = ReturnedMessage(returned.method, returned.properties, returned.body)
            fail(waiter.future, exceptions.UnroutableError([message]))
        else:
            resolve(waiter.future, event.frame)
