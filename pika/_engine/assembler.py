"""Reassembly of content split over method, header and body frames.

The codec hands over a fused ContentFrame when a whole message is already in
its buffer (the fast path).  Otherwise the frames arrive one by one and this
assembler collects them: a content-bearing method, then exactly one header,
then body frames until the declared size is reached.  Anything else in
between is a protocol error.
"""

from __future__ import annotations

from pika import amqp_object, exceptions, spec


class ContentAssembler:
    """Collects one message at a time for one channel."""

    __slots__ = ("_fragments", "_received", "body_size", "method", "properties")

    def __init__(self) -> None:
        self.method: amqp_object.Method | None = None
        self.properties: spec.BasicProperties | None = None
        self.body_size = 0
        self._fragments: list[bytes] = []
        self._received = 0

    @property
    def busy(self) -> bool:
        """True between a content method and the end of its body."""
        return self.method is not None

    def start(self, method: amqp_object.Method) -> None:
        """A content-bearing method arrived; a header must follow."""
        self.method = method
        self.properties = None

    def header(
        self, body_size: int, properties: spec.BasicProperties
    ) -> tuple[amqp_object.Method, spec.BasicProperties, bytes] | None:
        """The header arrived; returns the message if it has no body."""
        if self.method is None or self.properties is not None:
            raise exceptions.UnexpectedFrameError("content header without a content method")
        self.properties = properties
        self.body_size = body_size
        if body_size == 0:
            return self._finish()
        return None

    def body(
        self, fragment: bytes
    ) -> tuple[amqp_object.Method, spec.BasicProperties, bytes] | None:
        """A body frame arrived; returns the message once it is complete."""
        if self.properties is None:
            raise exceptions.UnexpectedFrameError("content body without a content header")
        self._fragments.append(fragment)
        self._received += len(fragment)
        if self._received > self.body_size:
            raise exceptions.BodyTooLongError(self._received, self.body_size)
        if self._received == self.body_size:
            return self._finish()
        return None

    def _finish(self) -> tuple[amqp_object.Method, spec.BasicProperties, bytes]:
        method, properties = self.method, self.properties
        fragments = self._fragments
        body = fragments[0] if len(fragments) == 1 else b"".join(fragments)
        self.method = None
        self.properties = None
        self._fragments = []
        self._received = 0
        if method is None or properties is None:  # pragma: no cover - guarded by callers
            raise exceptions.UnexpectedFrameError("content finished without method")
        return method, properties, bytes(body)
