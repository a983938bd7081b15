"""Outgoing bytes: frames are encoded whole and queued until drained.

Every frame of a message is encoded before anything is queued, so an
encoding error (a too-long short string, an unsupported header value) leaves
nothing half-sent.
"""

from __future__ import annotations

from pika import amqp_object, spec
from pika._wire import publish, writer


class Outbox:
    """Queue of encoded frames plus the negotiated frame size."""

    __slots__ = ("bytes_sent", "chunks", "frame_max", "frames_sent")

    def __init__(self, frame_max: int = spec.FRAME_MAX_SIZE) -> None:
        # Read-only outside this class (an empty list means nothing to send).
        self.chunks: list[bytes] = []
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.frames_sent = 0

    def raw(self, data: bytes, frames: int = 1) -> None:
        """Queue pre-encoded bytes holding ``frames`` frames."""
        self.chunks.append(data)
        self.bytes_sent += len(data)
        self.frames_sent += frames

    def method(self, channel_number: int, method: amqp_object.Method) -> None:
        """Queue one method frame."""
        self.raw(writer.encode_method(channel_number, method))

    def content(
        self,
        channel_number: int,
        method: amqp_object.Method,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """Queue a content-bearing method with its header and body frames."""
        data = writer.encode_content(channel_number, method, properties, body, self.frame_max)
        self.raw(data, 2 + _body_frame_count(len(body), self.frame_max))

    def publish(
        self,
        channel_number: int,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> None:
        """Queue a Basic.Publish through the codec's fast path."""
        data = publish.encode_publish(
            channel_number, exchange, routing_key, mandatory, properties, body, self.frame_max
        )
        self.raw(data, 2 + _body_frame_count(len(body), self.frame_max))

    def pending(self) -> bool:
        """True when bytes are waiting to be drained."""
        return bool(self.chunks)

    def drain(self) -> bytes:
        """Return and forget everything queued."""
        chunks = self.chunks
        if not chunks:
            return b""
        self.chunks = []
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)


def _body_frame_count(body_size: int, frame_max: int) -> int:
    chunk = frame_max - 8
    return (body_size + chunk - 1) // chunk
