"""Outbound framing: methods and whole messages to wire bytes.

Every function returns the complete bytes of what it encodes, built with one
final join, so an encoding error (``ShortStringTooLong``, ``FieldTypeError``,
``UnsupportedAMQPFieldException``, ``struct.error``) leaves nothing
half-built. A message body is copied once, by that join; large bodies are
sliced through a memoryview into body frames of at most ``frame_max - 8``
bytes, and an empty body produces no body frame.

``encode_publish``, the per-message hot path, is generated next door in
``publish.py`` (BasicProperties' encoder written inline) and uses the
pieces exported here.
"""

from __future__ import annotations

import struct

from pika import amqp_object, spec

from .primitives import FRAME_END, METHOD_FRAME_HEADER, SHORT_CACHE, prefixed_shortstr

__all__ = [
    "HEARTBEAT_FRAME",
    "PROTOCOL_HEADER",
    "encode_content",
    "encode_method",
]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"

Body = bytes | bytearray | memoryview | str

_METHOD_HEAD = METHOD_FRAME_HEADER.pack
# Publish method frame up to the exchange name: frame header, method id, ticket.
_PUBLISH_HEAD = struct.Struct(">BHIIH").pack
# Content header frame up to its property flags, and with them.
_HEADER_HEAD = struct.Struct(">BHIHHQ").pack
HEADER_HEAD_AND_FLAGS = struct.Struct(">BHIHHQH").pack
# The frame end of the previous frame followed by a body frame header.
END_AND_BODY_HEAD = struct.Struct(">BBHI").pack
_CACHE = SHORT_CACHE
_prefixed = prefixed_shortstr
_PUBLISH = spec.Basic.Publish.INDEX
# Publish bits (mandatory or not; immediate is never set) and the frame end.
_BITS_AND_END = (b"\x00\xce", b"\x01\xce")
# (channel, exchange, routing key, mandatory) -> Basic.Publish method frame:
# publishers repeat these, so the frame is built once. Bounded: cleared when full.
PUBLISH_FRAMES: dict[tuple[object, ...], bytes] = {}
_PUBLISH_FRAMES_LIMIT = 1024
_FLAG_TYPES = (bool, int)


def encode_method(channel: int, method: amqp_object.Method) -> bytes:
    """One method frame."""
    payload = b"".join(method.encode())
    return _METHOD_HEAD(1, channel, len(payload) + 4, method.INDEX) + payload + FRAME_END


def encode_content(
    channel: int,
    method: amqp_object.Method,
    properties: amqp_object.Properties,
    body: Body,
    frame_max: int,
) -> bytes:
    """Method frame, content header frame and body frames of one message."""
    data = body_bytes(body)
    props = b"".join(properties.encode())
    parts: list[bytes | memoryview] = [
        encode_method(channel, method),
        _HEADER_HEAD(2, channel, len(props) + 12, properties.INDEX, 0, len(data)),
        props,
    ]
    append_body(parts, channel, data, frame_max)
    return b"".join(parts)


def publish_frame(
    channel: int, exchange: str | bytes, routing_key: str | bytes, mandatory: bool
) -> bytes:
    """The Basic.Publish method frame, remembered when its arguments repeat."""
    # Both names come back with their length octet, memoised when they repeat.
    ex = (_CACHE.get(exchange) if type(exchange) is str else None) or _prefixed(
        exchange, "exchange"
    )
    rk = (_CACHE.get(routing_key) if type(routing_key) is str else None) or _prefixed(
        routing_key, "routing_key"
    )
    head = _PUBLISH_HEAD(1, channel, 7 + len(ex) + len(rk), _PUBLISH, 0)
    frame = b"".join((head, ex, rk, _BITS_AND_END[1 if mandatory else 0]))
    # Only exact types are stored, so a hit returns what these arguments encode to.
    # (1 and True are equal keys with the same encoding, as are 0 and False.)
    exact = type(exchange) is str and type(routing_key) is str
    if exact and type(channel) is int and type(mandatory) in _FLAG_TYPES:
        if len(PUBLISH_FRAMES) >= _PUBLISH_FRAMES_LIMIT:
            PUBLISH_FRAMES.clear()
        PUBLISH_FRAMES[channel, exchange, routing_key, mandatory] = frame
    return frame


def body_bytes(body: Body) -> bytes | memoryview:
    """The body as bytes or a flat byte memoryview (no copy unless it is a str)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    view = memoryview(body)
    if not view.c_contiguous:
        return view.tobytes()  # strided views cannot be sliced as bytes
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def append_body(
    parts: list[bytes | memoryview], channel: int, data: bytes | memoryview, frame_max: int
) -> None:
    """Close the header frame and add body frames of at most frame_max - 8 bytes."""
    chunk = frame_max - 8
    if chunk < 1:
        raise ValueError(f"frame_max must be greater than 8, not {frame_max}")
    size = len(data)
    if size <= chunk:
        if size:
            parts += (END_AND_BODY_HEAD(0xCE, 3, channel, size), data)
        parts.append(FRAME_END)
        return
    view = memoryview(data)
    for start in range(0, size, chunk):
        piece = view[start : start + chunk]
        parts += (END_AND_BODY_HEAD(0xCE, 3, channel, len(piece)), piece)
    parts.append(FRAME_END)
