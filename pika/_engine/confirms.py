"""Publisher-confirm bookkeeping: sequence numbers and what each Ack settles.

In confirm mode the broker numbers publishes 1, 2, 3... on the channel from
the moment it processes Confirm.Select; the engine starts counting when that
method reaches the wire.  A Basic.Ack/Nack with ``multiple`` settles every
unsettled tag up to its own; single acks may arrive out of order.

With automatic recovery a channel re-opened on a new connection continues
its predecessor's numbering (``continue_from``): the broker restarts at 1, so
``tag_offset`` is added to the tags it sends (``wire_to_local``).  What was unsettled at the drop
is reported by ``unsettled_ranges`` as outcome unknown.
"""

from __future__ import annotations


class ConfirmTracker:
    """Counts publishes and turns Ack/Nack frames into tag ranges."""

    __slots__ = ("_out_of_order", "enabled", "lowest_unsettled", "next_tag", "tag_offset")

    def __init__(self) -> None:
        self.enabled = False
        self.next_tag = 1
        self.lowest_unsettled = 1
        self.tag_offset = 0
        self._out_of_order: set[int] = set()

    def enable(self) -> None:
        """Confirm.Select went out: count publishes from 1 (after the offset)."""
        if not self.enabled:
            self.enabled = True
            self.next_tag = self.tag_offset + 1
            self.lowest_unsettled = self.next_tag

    def continue_from(self, previous: ConfirmTracker) -> None:
        """Number on from ``previous`` (the same channel on the lost connection)."""
        self.tag_offset = previous.next_tag - 1
        self.next_tag = self.lowest_unsettled = previous.next_tag
        self._out_of_order = set()

    def unsettled_ranges(self) -> list[tuple[int, int]]:
        """Inclusive ranges of the tags still awaiting an Ack or Nack."""
        ranges: list[tuple[int, int]] = []
        start = None
        for tag in range(self.lowest_unsettled, self.next_tag):
            if tag in self._out_of_order:
                if start is not None:
                    ranges.append((start, tag - 1))
                    start = None
            elif start is None:
                start = tag
        if start is not None:
            ranges.append((start, self.next_tag - 1))
        return ranges

    def on_publish(self) -> int:
        """Return the tag of a publish that is being sent, or 0 if not counting."""
        if not self.enabled:
            return 0
        tag = self.next_tag
        self.next_tag = tag + 1
        return tag

    def wire_to_local(self, delivery_tag: int) -> int:
        """The tag an Ack/Nack names in this channel's numbering (0 stays 0)."""
        return delivery_tag + self.tag_offset if delivery_tag else 0

    def unsettled(self) -> int:
        """How many publishes await an Ack or Nack."""
        return self.next_tag - self.lowest_unsettled - len(self._out_of_order)

    def settle(self, delivery_tag: int, multiple: bool) -> tuple[int, int]:
        """Return the inclusive tag range an Ack/Nack settles (``delivery_tag`` as numbered here)."""
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
