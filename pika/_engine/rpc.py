"""One synchronous method in flight per channel, the rest queued FIFO.

AMQP lets a peer pipeline synchronous methods, but replies carry no
correlation id, so a client that wants to pair replies with requests must
keep at most one outstanding per channel.  Requests made while one is in
flight wait here and go out, in order, as replies arrive.  Methods sent with
nowait travel through the same queue (so they keep their place in line) but
hold nothing up.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from pika import amqp_object


class Call(NamedTuple):
    """A synchronous method, the face's token and the replies that settle it.

    ``replies`` is empty for nowait calls.
    """

    method: amqp_object.Method
    token: object
    replies: tuple[type[amqp_object.Method], ...]


class RpcQueue:
    """FIFO of synchronous calls for one channel."""

    __slots__ = ("_waiting", "in_flight")

    def __init__(self) -> None:
        self._waiting: deque[Call] = deque()
        self.in_flight: Call | None = None

    def submit(self, call: Call) -> list[Call]:
        """Queue ``call``; return the calls that may be sent now."""
        self._waiting.append(call)
        if self.in_flight is not None:
            return []
        return self._release()

    def match(self, method: amqp_object.Method) -> Call | None:
        """Return the in-flight call ``method`` answers, or None."""
        call = self.in_flight
        if call is not None and isinstance(method, call.replies):
            return call
        return None

    def complete(self) -> list[Call]:
        """Settle the in-flight call; return the calls that may be sent now."""
        self.in_flight = None
        return self._release()

    def has_queued(self, method_type: type[amqp_object.Method]) -> bool:
        """True if a call of ``method_type`` is still waiting to be sent."""
        return any(isinstance(call.method, method_type) for call in self._waiting)

    def clear(self) -> list[Call]:
        """Drop everything; return what was in flight or waiting."""
        dropped = list(self._waiting)
        if self.in_flight is not None:
            dropped.insert(0, self.in_flight)
        self._waiting.clear()
        self.in_flight = None
        return dropped

    def _release(self) -> list[Call]:
        ready: list[Call] = []
        while self._waiting:
            call = self._waiting.popleft()
            ready.append(call)
            if call.replies:
                self.in_flight = call
                break
        return ready
