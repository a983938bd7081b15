"""Incremental frame reader: bytes in, decoded frames out.

Theory of operation: a chunk fed while nothing is buffered is parsed in
place (no copy); whatever it leaves unconsumed, and every chunk fed after
it, goes into one bytearray that a read offset walks over. The consumed
prefix is dropped only when everything was consumed or when it is large, so
no byte is moved per frame. Each frame header is checked against
``max_frame_size`` as soon as its 7 bytes are present, before the payload is
awaited, so a bogus length cannot make the reader buffer gigabytes.

``read()`` returns every complete item in wire order. When a content-bearing
method (Deliver, GetOk, Return), its header and all its body frames are all
present, they come out as one ``ContentFrame`` (the fast path: Deliver is
unpacked with struct straight from the input and the body is copied once).
Otherwise the separate ``Method``/``Header``/``Body`` frames come out and the
engine's assembler puts them together.

Incomplete input is not an error: ``read()`` returns what is complete and
keeps the rest. Malformed input raises ``MalformedFrameError`` (see
``pika._wire.errors`` for the reply codes); items decoded before the bad
frame are returned first, and the next ``read()`` raises.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, cast

from pika import spec
from pika.exceptions import InvalidFieldTypeException
from pika.frame import Body, Heartbeat, Method, decode_header, decode_method
from pika.frame import protocol_header as _protocol_header

from .errors import FRAME_ERROR, SYNTAX_ERROR, MalformedFrameError, truncated
from .primitives import CONTENT_HEADER, FRAME_HEADER
from .propmemo import PropertiesMemo

__all__ = ["ContentFrame", "FrameReader"]

Data = bytes | bytearray

_HEADER = FRAME_HEADER.unpack_from
_HEADER_INDEX = struct.Struct(">BHII").unpack_from
_CONTENT_HEADER = CONTENT_HEADER.unpack_from
# A content header frame up to its body size: type, channel, size, class, weight, body size.
_CONTENT_FRAME = struct.Struct(">BHIHHQ").unpack_from
_QBB = struct.Struct(">QBB").unpack_from
_DELIVER = spec.Basic.Deliver.INDEX
_CONTENT = frozenset((spec.Basic.Deliver.INDEX, spec.Basic.GetOk.INDEX, spec.Basic.Return.INDEX))
_Deliver = spec.Basic.Deliver
_Properties = spec.BasicProperties
_new = object.__new__
_tuple_new = tuple.__new__
# Bigger bodies in a bytearray go through a memoryview so they are copied once.
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

    __slots__ = ("_buf", "_limit", "_memo", "_pending", "_pos")

    def __init__(self, max_frame_size: int) -> None:
        self._buf = bytearray()
        self._pos = 0
        # A bytes chunk fed while the buffer was empty, parsed without copying.
        self._pending: bytes | None = None
        self._limit = 0
        self._memo = PropertiesMemo()
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

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet returned as items."""
        pending = len(self._pending) if self._pending is not None else 0
        return len(self._buf) - self._pos + pending

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if self._pending is None and not self._buf and type(data) is bytes:
            self._pending = data
            return
        if self._pending is not None:
            self._buf += self._pending
            self._pending = None
        self._buf += data

    def read(self) -> list[object]:
        """Return every complete item received so far, in wire order."""
        out: list[object] = []
        data: Data
        if self._pending is None:
            data = self._buf
        else:
            data, self._pending, self._pos = self._pending, None, 0
        try:
            self._decode_into(out, data)
            if data is not self._buf and self._pos == len(data):
                self._pos = 0  # the usual case: a fed chunk fully consumed
                return out
        except (MalformedFrameError, InvalidFieldTypeException) as exc:
            # Items before the bad frame are handed over; the next read() raises.
            if not out:
                self._keep(data)
                if isinstance(exc, InvalidFieldTypeException):
                    text = f"unknown field type {exc.args[0]!r}"
                    raise MalformedFrameError(SYNTAX_ERROR, text) from exc
                raise
        self._keep(data)
        return out

    def _keep(self, data: Data) -> None:
        """Buffer what is left of ``data``; drop consumed bytes when worthwhile."""
        pos = self._pos
        if data is not self._buf:
            if pos < len(data):
                self._buf += memoryview(data)[pos:]
            self._pos = 0
            return
        buf = self._buf
        if pos == len(buf):
            buf.clear()
            self._pos = 0
        elif pos >= _COMPACT_AT and pos * 2 > len(buf):
            del buf[:pos]
            self._pos = 0

    def _decode_into(self, out: list[object], data: Data) -> None:
        pos = self._pos
        end = len(data)
        limit = self._limit
        while end - pos >= 7:
            # The method id too, in one call (meaningless for other frame types).
            # With a payload under 4 bytes it overlaps the frame-end octet
            # (checked below), so it cannot match a content method's id.
            frame_type, channel, size, index = (
                _HEADER_INDEX(data, pos) if end - pos >= 11 else (*_HEADER(data, pos), 0)
            )
            stop = pos + 7 + size
            item: object = None
            if size > limit or frame_type not in _FRAME_TYPES:
                item, stop = self._unusual(data, pos, frame_type, size)
                if item is None:
                    break
            elif stop >= end:
                break
            elif data[stop] != 206:
                raise _frame_error(f"invalid frame-end octet 0x{data[stop]:02X}")
            elif frame_type == 1:
                if index == _DELIVER:
                    item, stop = self._deliver(data, pos, stop, channel)
                if item is None and index in _CONTENT:
                    item, stop = self._content(data, pos + 7, stop, channel)
                if item is None:
                    item = Method(channel, decode_method(data[pos + 7 : stop]))
            elif frame_type == 3:
                item = Body(channel, _copy(data, pos + 7, stop))
            elif frame_type == 2:
                item = decode_header(channel, data[pos + 7 : stop])
            else:
                item = _heartbeat(channel, size)
            out.append(item)
            # Progress is saved per frame so an error later keeps these items.
            self._pos = pos = stop + 1

    def _unusual(self, data: Data, pos: int, frame_type: int, size: int) -> tuple[object, int]:
        """Protocol header, oversize frame or unknown frame type."""
        if frame_type == 65 and data[pos : pos + 4] == b"AMQP":
            if len(data) - pos < 8:
                return None, pos
            return _protocol_header(data[pos : pos + 8]), pos + 7
        if frame_type not in _FRAME_TYPES:
            raise _frame_error(f"unknown frame type {frame_type}")
        raise _frame_error(f"frame of {size + 8} bytes exceeds frame_max {self._limit + 8}")

    # -- the fused content fast paths -----------------------------------------

    def _deliver(
        self, data: Data, pos: int, stop: int, channel: int
    ) -> tuple[ContentFrame | None, int]:
        """Deliver + header + a single body frame: the consumer hot path, inline.

        Anything unusual (non-UTF-8 names, several body frames, an empty body,
        a malformed frame) returns (None, stop) and takes the general path.
        """
        try:
            start = pos + 11
            tag_end = start + 1 + data[start]
            consumer_tag = data[start + 1 : tag_end].decode()
            delivery_tag, bits, size = _QBB(data, tag_end)
            key_start = tag_end + 10 + size
            exchange = data[tag_end + 10 : key_start].decode()
            key_end = key_start + 1 + data[key_start]
            routing_key = data[key_start + 1 : key_end].decode()
            head = stop + 1
            kind, chan, size, class_id, _weight, body_size = _CONTENT_FRAME(data, head)
            header = head + 7 + size
            body_kind, body_chan, body_len = _HEADER(data, header + 1)
        except (UnicodeDecodeError, IndexError, struct.error):
            return None, stop
        end = header + 8 + body_len
        limit = self._limit
        if (
            key_end != stop
            or kind != 2
            or chan != channel
            or class_id != 60
            or body_kind != 3
            or body_chan != channel
            or body_len != body_size
            or size > limit
            or body_len > limit
            or end >= len(data)
            or data[header] != 206
            or data[end] != 206
        ):
            return None, stop
        raw = data[head + 19 : header]
        try:
            props = self._memo.decode(raw if type(raw) is bytes else bytes(raw))
        except (MalformedFrameError, InvalidFieldTypeException):
            return None, stop
        if props is None:
            return None, stop
        method = _new(_Deliver)
        method.consumer_tag = consumer_tag
        method.delivery_tag = delivery_tag
        method.redelivered = (bits & 1) != 0
        method.exchange = exchange
        method.routing_key = routing_key
        body = data[header + 8 : end] if type(data) is bytes else _copy(data, header + 8, end)
        return _tuple_new(ContentFrame, (channel, method, props, body)), end

    def _content(
        self, data: Data, start: int, stop: int, channel: int
    ) -> tuple[ContentFrame | None, int]:
        """Method + header + body as one item, or (None, stop) if not all here."""
        head = stop + 1
        if len(data) - head < 22:
            return None, stop
        kind, chan, size = _HEADER(data, head)
        header = head + 7 + size
        # Anything unexpected is left to the frame-by-frame path, which reports it.
        if kind != 2 or chan != channel or not 14 <= size <= self._limit:
            return None, stop
        if header >= len(data) or data[header] != 206:
            return None, stop
        class_id, _weight, body_size = _CONTENT_HEADER(data, head + 7)
        body, last = self._body(data, header + 1, channel, body_size)
        if body is None or class_id != 60:
            return None, stop
        try:
            method = _content_method(data[start:stop])
            props = self._memo.decode(bytes(data[head + 19 : header]))
            if props is None:
                raise truncated(_Properties.NAME)
        except (MalformedFrameError, InvalidFieldTypeException):
            return None, stop
        return _tuple_new(ContentFrame, (channel, method, props, body)), last or header

    def _body(self, data: Data, pos: int, channel: int, body_size: int) -> tuple[bytes | None, int]:
        """(body, last frame-end) if all body frames are here, else (None, 0)."""
        if not body_size:
            return b"", 0
        spans: list[tuple[int, int]] = []
        remaining = body_size
        while remaining > 0:
            stop = self._frame_at(data, pos, 3, channel)
            if stop is None or stop - pos - 7 > remaining:
                return None, 0
            spans.append((pos + 7, stop))
            remaining -= stop - pos - 7
            pos = stop + 1
        if len(spans) == 1:
            return _copy(data, *spans[0]), pos - 1
        with memoryview(data) as view:  # one copy of the whole body
            return b"".join([view[start:stop] for start, stop in spans]), pos - 1

    def _frame_at(self, data: Data, pos: int, frame_type: int, channel: int) -> int | None:
        """Frame-end offset of a whole frame of this type and channel at ``pos``."""
        if len(data) - pos < 8:
            return None
        kind, chan, size = _HEADER(data, pos)
        stop = pos + 7 + size
        if kind != frame_type or chan != channel or size > self._limit or stop >= len(data):
            return None
        return stop if data[stop] == 206 else None


def _heartbeat(channel: int, size: int) -> Heartbeat:
    if channel or size:
        raise _frame_error("heartbeat frame must be empty and on channel 0")
    return Heartbeat()


def _copy(data: Data, start: int, stop: int) -> bytes:
    """``bytes(data[start:stop])`` with a single copy."""
    if type(data) is bytes:
        return data[start:stop]
    if stop - start <= _SMALL_BODY:
        return bytes(data[start:stop])
    with memoryview(data) as view:
        return view[start:stop].tobytes()


def _content_method(payload: Data) -> spec.Basic.Deliver | spec.Basic.GetOk | spec.Basic.Return:
    # Only called for the three content method ids, so the class is one of them.
    return cast("spec.Basic.Deliver | spec.Basic.GetOk | spec.Basic.Return", decode_method(payload))
