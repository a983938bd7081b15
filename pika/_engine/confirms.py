"""Publisher-confirm bookkeeping: sequence numbers and what each Ack settles.

In confirm mode the broker numbers publishes 1, 2, 3... on the channel from
the moment it processes Confirm.Select; the engine starts counting when that
method reaches the wire.  A Basic.Ack/Nack with ``multiple`` settles every
unsettled tag up to its own; single acks may arrive out of order.
"""

from __future__ import annotations


class ConfirmTracker:
    """Counts publishes and turns Ack/Nack frames into tag ranges."""

    __slots__ = ("_out_of_order", "enabled", "lowest_unsettled", "next_tag")

    def __init__(self) -> None:
        self.enabled = False
        self.next_tag = 1
        self.lowest_unsettled = 1
        self._out_of_order: set[int] = set()

    def enable(self) -> None:
        """Confirm.Select went out: count publishes from 1."""
        if not self.enabled:
            self.enabled = True
            self.next_tag = 1
            self.lowest_unsettled = 1

    def on_publish(self) -> int:
        """Return the tag of a publish that is being sent, or 0 if not counting."""
        if not self.enabled:
            return 0
        tag = self.next_tag
        self.next_tag = tag + 1
        return tag

    def unsettled(self) -> int:
        """How many publishes await an Ack or Nack."""
        return self.next_tag - self.lowest_unsettled - len(self._out_of_order)

    def settle(self, delivery_tag: int, multiple: bool) -> tuple[int, int]:
        """Return the inclusive tag range an Ack/Nack settles."""
        if multiple or delivery_tag == 0:
            last = delivery_tag if delivery_tag else self.next_tag - 1
            first = self.lowest_unsettled
            self._advance_past(last)
            return first, last
        if delivery_tag == self.lowest_unsettled:
            self._advance_past(delivery_tag)
        elif delivery_tag > self.lowest_unsettled:
            self._out_of_order.add(delivery_tag)
        return delivery_tag, delivery_tag

    def _advance_past(self, tag: int) -> None:
        low = max(self.lowest_unsettled, tag + 1)
        if self._out_of_order:
            self._out_of_order = {t for t in self._out_of_order if t > tag}
            while low in self._out_of_order:
                self._out_of_order.discard(low)
                low += 1
        self.lowest_unsettled = low
