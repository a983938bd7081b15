"""Incremental frame reader: bytes in, decoded frames out.

Theory of operation: received bytes are appended to one bytearray and a read
offset walks over it; consumed bytes are dropped only when everything was
consumed or the dead prefix is large, so no byte is moved per frame. Each
frame header is checked against ``max_frame_size`` as soon as its 7 bytes
are present, before the payload is awaited, so a bogus length cannot make
the reader buffer gigabytes.

``read()`` returns every complete item in wire order. When a content-bearing
method (Deliver, GetOk, Return), its header and all its body frames are all
in the buffer, they come out as one ``ContentFrame`` (the fast path: fields
unpacked with struct, the body joined from the buffer in one copy).
Otherwise the separate ``Method``/``Header``/``Body`` frames come out and the
engine's assembler puts them together.

Incomplete input is not an error: ``read()`` returns what is complete and
keeps the rest. Malformed input raises ``MalformedFrameError`` (see
``pika._wire.errors`` for the reply codes); items decoded before the bad
frame are returned first, and the next ``read()`` raises.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pika import spec
from pika.exceptions import InvalidFieldTypeException
from pika.frame import Body, Heartbeat, Method, decode_header, decode_method
from pika.frame import protocol_header as _protocol_header

from .errors import FRAME_ERROR, SYNTAX_ERROR, MalformedFrameError, truncated
from .primitives import CONTENT_HEADER, FRAME_HEADER, U32

__all__ = ["ContentFrame", "FrameReader"]

_HEADER = FRAME_HEADER.unpack_from
_U32 = U32.unpack_from
_CONTENT_HEADER = CONTENT_HEADER.unpack_from
_QBB = struct.Struct(">QBB").unpack_from
_DELIVER = spec.Basic.Deliver.INDEX
_CONTENT = frozenset((spec.Basic.Deliver.INDEX, spec.Basic.GetOk.INDEX, spec.Basic.Return.INDEX))
_Deliver = spec.Basic.Deliver
_Properties = spec.BasicProperties
_new = object.__new__
# Bodies up to this size are sliced directly; bigger ones go through a
# memoryview so they are copied exactly once.
_SMALL_BODY = 4096
# Drop the consumed prefix once it is this large and more than half the buffer.
_COMPACT_AT = 65536
_FRAME_TYPES = (1, 2, 3, 8)


class ContentFrame(NamedTuple):
    """A whole inbound message: method, properties and the joined body."""

    channel_number: int
    method: spec.Basic.Deliver | spec.Basic.GetOk | spec.Basic.Return
    properties: spec.BasicProperties
    body: bytes


def _frame_error(text: str) -> MalformedFrameError:
    return MalformedFrameError(FRAME_ERROR, text)


class FrameReader:
    """Decode inbound frames from bytes fed in arbitrary pieces."""

    __slots__ = ("_buf", "_limit", "_pos")

    def __init__(self, max_frame_size: int) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._limit = 0
        self.max_frame_size = max_frame_size

    @property
    def max_frame_size(self) -> int:
        """Largest accepted frame, header and frame-end included (frame_max)."""
        return self._limit + 8

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        if not isinstance(value, int) or value < 8:
            raise ValueError(f"max_frame_size must be an int >= 8, not {value!r}")
        self._limit = value - 8

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet returned as frames."""
        return len(self._buf) - self._pos

    def read(self) -> list[object]:
        """Return every complete item in the buffer, in wire order."""
        out: list[object] = []
        buf = self._buf
        pos = self._pos
        try:
            pos = self._decode_into(out, buf, pos)
        except MalformedFrameError:
            if not out:
                raise
            # Hand over what came before the bad frame; the next read() raises.
            pos = self._pos
        self._compact(buf, pos)
        return out

    def _compact(self, buf: bytearray, pos: int) -> None:
        if pos == len(buf):
            buf.clear()
            pos = 0
        elif pos >= _COMPACT_AT and pos * 2 > len(buf):
            del buf[:pos]
            pos = 0
        self._pos = pos

    def _decode_into(self, out: list[object], buf: bytearray, pos: int) -> int:
        end = len(buf)
        limit = self._limit
        while end - pos >= 7:
            frame_type, channel, size = _HEADER(buf, pos)
            if size > limit or frame_type not in _FRAME_TYPES:
                item, stop = self._unusual(buf, pos, frame_type, size)
                if item is None:
                    break
            else:
                stop = pos + 7 + size
                if stop >= end:
                    break
                if buf[stop] != 206:
                    raise _frame_error(f"invalid frame-end octet 0x{buf[stop]:02X}")
                item, stop = self._decode_frame(buf, pos, stop, frame_type, channel)
            out.append(item)
            # Remember progress so an error in a later frame keeps these items.
            self._pos = pos = stop + 1
        return pos

    def _unusual(
        self, buf: bytearray, pos: int, frame_type: int, size: int
    ) -> tuple[object | None, int]:
        """Protocol header, oversize frame or unknown frame type."""
        if frame_type == 65 and buf[pos : pos + 4] == b"AMQP":
            if len(buf) - pos < 8:
                return None, pos
            return _protocol_header(buf[pos : pos + 8]), pos + 7
        if frame_type not in _FRAME_TYPES:
            raise _frame_error(f"unknown frame type {frame_type}")
        raise _frame_error(f"frame of {size + 8} bytes exceeds frame_max {self._limit + 8}")

    def _decode_frame(
        self, buf: bytearray, pos: int, stop: int, frame_type: int, channel: int
    ) -> tuple[object, int]:
        """Decode one whole frame; a content method may swallow the frames after it."""
        try:
            if frame_type == 3:
                return Body(channel, _join(buf, [(pos + 7, stop)])), stop
            if frame_type == 1:
                if stop - pos >= 11 and _U32(buf, pos + 7)[0] in _CONTENT:
                    fused = self._content(buf, pos, stop, channel)
                    if fused is not None:
                        return fused
                return Method(channel, decode_method(buf[pos + 7 : stop])), stop
            if frame_type == 2:
                return decode_header(channel, buf[pos + 7 : stop]), stop
            if channel != 0 or stop != pos + 7:
                raise _frame_error("heartbeat frame must be empty and on channel 0")
            return Heartbeat(), stop
        except InvalidFieldTypeException as exc:
            raise MalformedFrameError(SYNTAX_ERROR, f"unknown field type {exc.args[0]!r}") from exc

    # -- the fused content fast path ------------------------------------------

    def _content(
        self, buf: bytearray, pos: int, stop: int, channel: int
    ) -> tuple[ContentFrame, int] | None:
        """Method + header + body as one item, or None if not all in the buffer."""
        header = self._frame_at(buf, stop + 1, 2, channel)
        if header is None or header[1] - header[0] < 14:
            return None
        class_id, _weight, body_size = _CONTENT_HEADER(buf, header[0])
        if class_id != 60:
            return None
        spans = self._body_spans(buf, header[1] + 1, channel, body_size)
        if spans is None:
            return None
        try:
            method = self._content_method(buf, pos + 7, stop)
            props = _new(_Properties).decode(buf[header[0] + 12 : header[1]])
        except (MalformedFrameError, InvalidFieldTypeException):
            return None  # let the frame-by-frame path report it in order
        last = spans[-1][1] if spans else header[1]
        return ContentFrame(channel, method, props, _join(buf, spans)), last

    def _frame_at(
        self, buf: bytearray, pos: int, frame_type: int, channel: int
    ) -> tuple[int, int] | None:
        """(payload start, frame-end offset) of a whole frame of this type/channel."""
        if len(buf) - pos < 8:
            return None
        kind, chan, size = _HEADER(buf, pos)
        stop = pos + 7 + size
        if kind != frame_type or chan != channel or size > self._limit or stop >= len(buf):
            return None
        if buf[stop] != 206:
            return None
        return pos + 7, stop

    def _body_spans(
        self, buf: bytearray, pos: int, channel: int, body_size: int
    ) -> list[tuple[int, int]] | None:
        """Payload spans of the body frames, if they are all here and add up."""
        spans: list[tuple[int, int]] = []
        remaining = body_size
        while remaining > 0:
            frame = self._frame_at(buf, pos, 3, channel)
            if frame is None or frame[1] - frame[0] > remaining:
                return None
            spans.append(frame)
            remaining -= frame[1] - frame[0]
            pos = frame[1] + 1
        return spans

    @staticmethod
    def _content_method(
        buf: bytearray, start: int, stop: int
    ) -> spec.Basic.Deliver | spec.Basic.GetOk | spec.Basic.Return:
        if _U32(buf, start)[0] == _DELIVER:
            try:
                return _deliver(buf, start + 4, stop)
            except (UnicodeDecodeError, IndexError, struct.error):
                pass  # non-UTF-8 names or truncation: the generic decoder handles both
        method = decode_method(buf[start:stop])
        if not isinstance(method, (spec.Basic.Deliver, spec.Basic.GetOk, spec.Basic.Return)):
            raise truncated("content method")
        return method


def _deliver(buf: bytearray, pos: int, stop: int) -> spec.Basic.Deliver:
    """Unpack Basic.Deliver fields straight from the buffer."""
    n = buf[pos]
    tag_end = pos + 1 + n
    consumer_tag = buf[pos + 1 : tag_end].decode()
    delivery_tag, bits, n = _QBB(buf, tag_end)
    pos = tag_end + 10
    exchange = buf[pos : pos + n].decode()
    pos += n
    n = buf[pos]
    routing_key = buf[pos + 1 : pos + 1 + n].decode()
    if pos + 1 + n > stop:
        raise IndexError("Basic.Deliver overruns its frame")
    method: spec.Basic.Deliver = _new(_Deliver)
    method.consumer_tag = consumer_tag
    method.delivery_tag = delivery_tag
    method.redelivered = bool(bits & 1)
    method.exchange = exchange
    method.routing_key = routing_key
    return method


def _join(buf: bytearray, spans: list[tuple[int, int]]) -> bytes:
    """The body bytes, copied once out of the buffer."""
    if not spans:
        return b""
    if len(spans) == 1:
        start, stop = spans[0]
        if stop - start <= _SMALL_BODY:
            return bytes(buf[start:stop])
        with memoryview(buf) as view:
            return view[start:stop].tobytes()
    with memoryview(buf) as view:
        return b"".join([view[start:stop] for start, stop in spans])
