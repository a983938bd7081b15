"""AMQP frames: the objects the connection exchanges and their wire form.

A frame on the wire is a 7-byte header (type octet, channel short, payload
size long), the payload and the frame-end octet 0xCE. ``decode_frame`` turns
the start of a buffer into one frame object.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pika import amqp_object, spec
from pika._wire.errors import NOT_IMPLEMENTED, SYNTAX_ERROR, MalformedFrameError
from pika._wire.primitives import CONTENT_HEADER, FRAME_END, FRAME_HEADER, U32
from pika.exceptions import InvalidFrameError

__all__ = [
    "Body",
    "Frame",
    "Header",
    "Heartbeat",
    "Method",
    "ProtocolHeader",
    "decode_frame",
]

_M = TypeVar("_M", bound=amqp_object.Method)
_METHOD_HEADER = struct.Struct(">BHII")
_HEADER_PREFIX = struct.Struct(">BHIHHQ")
_HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"


class Frame(amqp_object.AMQPObject):
    """Base frame: a type and a channel number."""

    NAME = "Frame"

    def __init__(self, frame_type: int, channel_number: int) -> None:
        self.frame_type = frame_type
        self.channel_number = channel_number

    def _marshal(self, pieces: Sequence[bytes]) -> bytes:
        """Wrap a payload into header + payload + frame-end."""
        payload = b"".join(pieces)
        header = FRAME_HEADER.pack(self.frame_type, self.channel_number, len(payload))
        return header + payload + FRAME_END

    def marshal(self) -> bytes:
        """Return the frame's wire bytes."""
        raise NotImplementedError


class Method(Frame, Generic[_M]):
    """A method frame carrying ``method``."""

    NAME = "METHOD"

    def __init__(self, channel_number: int, method: _M) -> None:
        self.frame_type = spec.FRAME_METHOD
        self.channel_number = channel_number
        self.method = method

    def marshal(self) -> bytes:
        method = self.method
        payload = b"".join(method.encode())
        size = len(payload) + 4
        head = _METHOD_HEADER.pack(1, self.channel_number, size, method.INDEX)
        return head + payload + FRAME_END


class Header(Frame):
    """A content header frame: body size and properties."""

    NAME = "Header"

    def __init__(self, channel_number: int, body_size: int, props: amqp_object.Properties) -> None:
        self.frame_type = spec.FRAME_HEADER
        self.channel_number = channel_number
        self.body_size = body_size
        self.properties = props

    def marshal(self) -> bytes:
        props = b"".join(self.properties.encode())
        index = self.properties.INDEX or 0
        head = _HEADER_PREFIX.pack(
            2, self.channel_number, len(props) + 12, index, 0, self.body_size
        )
        return head + props + FRAME_END


class Body(Frame):
    """A content body frame carrying one fragment of the body."""

    NAME = "Body"

    def __init__(self, channel_number: int, fragment: bytes) -> None:
        self.frame_type = spec.FRAME_BODY
        self.channel_number = channel_number
        self.fragment = fragment

    def marshal(self) -> bytes:
        fragment = self.fragment
        return FRAME_HEADER.pack(3, self.channel_number, len(fragment)) + fragment + FRAME_END


class Heartbeat(Frame):
    """A heartbeat frame (channel 0, empty payload)."""

    NAME = "Heartbeat"

    def __init__(self) -> None:
        self.frame_type = spec.FRAME_HEARTBEAT
        self.channel_number = 0

    def marshal(self) -> bytes:
        return _HEARTBEAT


class ProtocolHeader(amqp_object.AMQPObject):
    """The 8-byte ``AMQP`` preamble; not a real frame (``frame_type == -1``)."""

    NAME = "ProtocolHeader"

    def __init__(
        self, major: int | None = None, minor: int | None = None, revision: int | None = None
    ) -> None:
        self.frame_type = -1
        self.major = major or spec.PROTOCOL_VERSION[0]
        self.minor = minor or spec.PROTOCOL_VERSION[1]
        self.revision = revision or spec.PROTOCOL_VERSION[2]

    def marshal(self) -> bytes:
        return b"AMQP" + bytes((0, self.major, self.minor, self.revision))


def protocol_header(raw: bytes | bytearray) -> ProtocolHeader:
    """Build a ProtocolHeader from 8 received bytes, keeping the exact version."""
    header = ProtocolHeader()
    header.major, header.minor, header.revision = raw[5], raw[6], raw[7]
    return header


def decode_frame(data_in: bytes | bytearray, offset: int = 0) -> tuple[int, Any]:
    """Decode the frame starting at ``offset``.

    Returns ``(consumed, frame)`` where ``consumed`` counts the bytes used from
    ``offset``, or ``(0, None)`` when the data does not hold a whole frame yet.
    Raises ``InvalidFrameError`` (or its subclass ``MalformedFrameError``) for
    bytes that are not a frame, and ``InvalidFieldTypeException`` for an
    unknown field-table tag.
    """
    available = len(data_in) - offset
    if available > 0 and data_in[offset] == 65:  # 'A': maybe b'AMQP'
        return _decode_protocol_header(data_in, offset, available)
    if available < 8:
        return 0, None
    frame_type, channel, size = FRAME_HEADER.unpack_from(data_in, offset)
    end = offset + 7 + size
    if end >= len(data_in):
        return 0, None
    if data_in[end] != 206:
        raise InvalidFrameError("Invalid FRAME_END marker")
    start = offset + 7
    if frame_type == 1:
        return end + 1 - offset, Method(channel, decode_method(data_in[start:end]))
    if frame_type == 2:
        return end + 1 - offset, decode_header(channel, data_in[start:end])
    if frame_type == 3:
        return end + 1 - offset, Body(channel, bytes(data_in[start:end]))
    if frame_type == 8:
        return end + 1 - offset, Heartbeat()
    raise InvalidFrameError(f"Unknown frame type: {frame_type}")


def _decode_protocol_header(
    data_in: bytes | bytearray, offset: int, available: int
) -> tuple[int, ProtocolHeader | None]:
    prefix = bytes(data_in[offset : offset + 4])
    if not b"AMQP".startswith(prefix):
        raise InvalidFrameError(f"Unknown frame type: {data_in[offset]}")
    if available < 8:
        return 0, None
    return 8, protocol_header(data_in[offset : offset + 8])


def decode_method(payload: bytes | bytearray) -> amqp_object.Method:
    """Decode a method frame payload (method id + fields)."""
    if len(payload) < 4:
        raise MalformedFrameError(SYNTAX_ERROR, "method frame shorter than a method id")
    (index,) = U32.unpack_from(payload, 0)
    cls = spec.methods.get(index)
    if cls is None:
        text = f"unknown method id 0x{index:08X} (class {index >> 16}, method {index & 0xFFFF})"
        raise MalformedFrameError(NOT_IMPLEMENTED, text)
    # decode() sets every field, so __init__'s defaults would be wasted work.
    return cls.__new__(cls).decode(payload, 4)


def decode_header(channel: int, payload: bytes | bytearray) -> Header:
    """Decode a content header frame payload."""
    if len(payload) < 14:
        raise MalformedFrameError(SYNTAX_ERROR, "content header frame too short")
    class_id, _weight, body_size = CONTENT_HEADER.unpack_from(payload, 0)
    cls = spec.props.get(class_id)
    if cls is None:
        raise MalformedFrameError(NOT_IMPLEMENTED, f"no content properties for class {class_id}")
    return Header(channel, body_size, cls.__new__(cls).decode(payload, 12))
