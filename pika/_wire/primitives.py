"""Shared low-level pieces of the codec: struct formats and string checks.

Both the generated ``pika.spec`` and ``pika.data`` use these, so a string
field is validated and encoded the same way everywhere.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pika.exceptions import ShortStringTooLong

from .errors import FieldTypeError

U8 = struct.Struct(">B")
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
# Frame header: type, channel, payload size.
FRAME_HEADER = struct.Struct(">BHI")
# Frame header followed by a method id (class << 16 | method).
METHOD_FRAME_HEADER = struct.Struct(">BHII")
# Content header payload prefix: class id, weight, body size.
CONTENT_HEADER = struct.Struct(">HHQ")
FRAME_END_BYTE = 0xCE
FRAME_END = b"\xce"


def _type_error(value: object, field: str) -> FieldTypeError:
    return FieldTypeError(f"{field} must be str or bytes, not {type(value).__name__}")


def shortstr(value: object, field: str) -> bytes:
    """Validate and encode a short string (without its length octet)."""
    if isinstance(value, str):
        raw = value.encode()
    elif isinstance(value, bytes):
        raw = value
    else:
        raise _type_error(value, field)
    if len(raw) > 255:
        raise ShortStringTooLong(raw)
    return raw


def longstr(value: object, field: str) -> bytes:
    """Validate and encode a long string (without its length prefix)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise _type_error(value, field)


# Memo of str -> length octet + UTF-8 bytes. Exchange names, routing keys,
# content types and table keys repeat from message to message, so encoding
# them once saves most of the per-message string work. Bounded: cleared when
# full, so a stream of unique values costs one dict insert each, no growth.
SHORT_CACHE: dict[str, bytes] = {}
_SHORT_CACHE_LIMIT = 2048
# SHORT_CACHE.get for a value of any type: None when it is not remembered.
# An unhashable value raises TypeError (no short string is unhashable).
cached_shortstr: Callable[[object], bytes | None] = SHORT_CACHE.get  # type: ignore[assignment]


def prefixed_shortstr(value: object, field: str) -> bytes:
    """Length octet + bytes of a validated short string (memoised for str)."""
    raw = shortstr(value, field)
    encoded = bytes((len(raw),)) + raw
    if type(value) is str:
        if len(SHORT_CACHE) >= _SHORT_CACHE_LIMIT:
            SHORT_CACHE.clear()
        SHORT_CACHE[value] = encoded
    return encoded


def text(raw: bytes | bytearray) -> str | bytes:
    """Decode UTF-8 text, keeping the raw bytes when they are not UTF-8."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return bytes(raw)
