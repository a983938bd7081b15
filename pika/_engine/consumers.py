"""The consumers of one channel: who is active, who is being cancelled.

A consumer is registered before Basic.Consume goes out (deliveries may follow
ConsumeOk at once) and forgotten on CancelOk, on a broker Basic.Cancel, or
when the channel closes.  Deliveries for a consumer the client is cancelling
are not handed to the face; manual-ack ones are rejected with requeue so the
broker can give them to someone else.  A nowait cancel gets no CancelOk to
say when the broker stopped delivering, so its consumer stays "cancelling"
(its tag in use, as in pika) until the channel closes; only the oldest of
more than UNANSWERED_LIMIT such consumers are forgotten.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import NamedTuple

from pika import exceptions

UNANSWERED_LIMIT = 256


class Consumer(NamedTuple):
    """One consumer: its tag, the face's token and whether it auto-acks."""

    tag: str
    token: object
    auto_ack: bool


class ConsumerRegistry:
    """Active and cancelling consumers of one channel."""

    __slots__ = ("_unanswered", "active", "cancelling")

    def __init__(self) -> None:
        self.active: dict[str, Consumer] = {}
        self.cancelling: dict[str, Consumer] = {}
        self._unanswered: deque[str] = deque()

    @staticmethod
    def new_tag(channel_number: int) -> str:
        """A fresh tag in pika's ``ctag<channel>.<hex>`` format."""
        return f"ctag{channel_number}.{uuid.uuid4().hex}"

    def add(self, tag: str, token: object, auto_ack: bool) -> Consumer:
        """Register a consumer; DuplicateConsumerTag if the tag is in use."""
        if tag in self.active or tag in self.cancelling:
            raise exceptions.DuplicateConsumerTag(tag)
        consumer = Consumer(tag, token, auto_ack)
        self.active[tag] = consumer
        return consumer

    def start_cancel(self, tag: str) -> Consumer | None:
        """Move an active consumer to cancelling; None if not active."""
        consumer = self.active.pop(tag, None)
        if consumer is not None:
            self.cancelling[tag] = consumer
        return consumer

    def cancel_unanswered(self, tag: str) -> None:
        """Keep a consumer cancelled with nowait as cancelling (bounded)."""
        self._unanswered.append(tag)
        if len(self._unanswered) > UNANSWERED_LIMIT:
            self.cancelling.pop(self._unanswered.popleft(), None)

    def finish_cancel(self, tag: str) -> Consumer | None:
        """Forget a consumer whose cancel completed."""
        consumer = self.cancelling.pop(tag, None)
        if consumer is None:
            consumer = self.active.pop(tag, None)
        return consumer

    def cancelled_by_broker(self, tag: str) -> Consumer | None:
        """Forget an active consumer the broker cancelled; None if unknown or cancelling."""
        return self.active.pop(tag, None)

    def tags(self) -> list[str]:
        """Tags of the active consumers, in registration order."""
        return list(self.active)

    def clear(self) -> None:
        """Forget everyone (the channel closed)."""
        self.active.clear()
        self.cancelling.clear()
        self._unanswered.clear()
