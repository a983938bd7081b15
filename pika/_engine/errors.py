"""Internal signal for faults caused by the peer.

Engine parts raise ``ProtocolViolation`` when the broker breaks the protocol;
``ConnectionEngine`` catches it at one place, sends Connection.Close with the
reply code and tears the stream down.  It never escapes the engine.
"""

from __future__ import annotations

from pika import spec


class ProtocolViolation(Exception):
    """The peer sent something the protocol does not allow here."""

    def __init__(self, reply_code: int, text: str) -> None:
        super().__init__(reply_code, text)
        self.reply_code = reply_code
        self.text = text


def unexpected(what: str) -> ProtocolViolation:
    """A frame that is not valid in the current state (505)."""
    return ProtocolViolation(spec.UNEXPECTED_FRAME, f"UNEXPECTED_FRAME - {what}")
