"""Delivery tags that stay monotonic across automatic recovery.

A broker numbers deliveries per channel from 1, and a recovered channel is a
new channel to the broker, so its tags start again at 1.  The application
must never see a tag twice, nor ack a new delivery with an old tag: each
channel keeps an ``offset`` (the highest tag handed out before the drop) that
is added to inbound tags and taken off outbound acks.  An ack for a tag at or
below the offset names a delivery from a lost connection, which the broker
has already requeued; sending it would ack the wrong message, so it is
dropped with a log line.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger("pika.channel")


class DeliveryTags:
    """One channel's delivery-tag epoch."""

    __slots__ = ("high", "offset")

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.high = offset

    def following(self) -> DeliveryTags:
        """The epoch for this channel re-opened on a new connection."""
        return DeliveryTags(self.high)

    def inbound(self, wire_tag: int) -> int:
        """The tag the application sees for a Deliver/GetOk ``wire_tag``."""
        tag = wire_tag + self.offset
        if tag > self.high:
            self.high = tag
        return tag

    def outbound(self, tag: int, what: str, channel_number: int) -> int | None:
        """The wire tag for an ack/nack/reject of ``tag``; None if it is stale."""
        if tag == 0:
            return 0  # "everything so far" means everything on this connection
        if tag > self.offset:
            return tag - self.offset
        LOGGER.warning(
            "Dropping %s for delivery tag %d on channel %d: the message was delivered "
            "before the connection was recovered, and the broker has requeued it",
            what,
            tag,
            channel_number,
        )
        return None
