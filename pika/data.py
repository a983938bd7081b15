"""AMQP field tables and arrays: encoding and decoding with RabbitMQ's type tags.

Encoding picks the tag from the Python type (checked in this order: str,
bytes, bool, int, Decimal, datetime, dict, list, None); anything else, floats
included, raises ``UnsupportedAMQPFieldException``. Decoding understands every
tag RabbitMQ and the AMQP 0-9-1 errata use. Truncated input or a length that
points past the end raises ``MalformedFrameError`` (reply code 502, a subclass
of ``InvalidFrameError``); an unknown tag raises ``InvalidFieldTypeException``.
"""

from __future__ import annotations

import calendar
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pika._wire.errors import SYNTAX_ERROR, MalformedFrameError, truncated
from pika._wire.primitives import SHORT_CACHE, U8, U32, U64, prefixed_shortstr, shortstr, text
from pika.exceptions import InvalidFieldTypeException, UnsupportedAMQPFieldException

__all__ = [
    "decode_short_string",
    "decode_table",
    "decode_value",
    "encode_short_string",
    "encode_table",
    "encode_value",
]

# Nesting deeper than this is refused so a hostile frame cannot exhaust the stack.
MAX_NESTING = 100

_TAGGED_U32 = struct.Struct(">BI")
_TAGGED_I32 = struct.Struct(">Bi")
_TAGGED_I64 = struct.Struct(">Bq")
_TAGGED_U64 = struct.Struct(">BQ")
_DECIMAL = struct.Struct(">BBi")
_DECIMAL_BODY = struct.Struct(">Bi")
_EMPTY_TABLE = b"\x00\x00\x00\x00"
_U32 = U32.unpack_from
_PACK_SIZE = U32.pack
_PACK_STR_HEAD = _TAGGED_U32.pack
_PACK_INT = _TAGGED_I32.pack
# Tag octet and the 32-bit word after it: the length of 'S' or the value of 'I'.
_TAG_WORD = _TAGGED_U32.unpack_from
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Precomputed encodings of the commonest small values (the generated spec's
# inlined headers table uses them too): indexing a tuple is far cheaper than a
# struct.pack call per table entry.
_SMALL = 256
STR_HEADS = tuple(_TAGGED_U32.pack(83, n) for n in range(_SMALL))  # 'S' + length
SMALL_INTS = tuple(_TAGGED_I32.pack(73, n) for n in range(_SMALL))  # 'I' + value
SIZES = tuple(U32.pack(n) for n in range(_SMALL))
_cached = SHORT_CACHE.get

# Fixed-size numeric tags -> decoder. 'l' is signed like RabbitMQ (pika 1.4);
# 'f'/'d' are real floats (pika master).
_FIXED: dict[int, struct.Struct] = {
    ord("b"): struct.Struct(">b"),
    ord("B"): struct.Struct(">B"),
    ord("U"): struct.Struct(">h"),
    ord("u"): struct.Struct(">H"),
    ord("s"): struct.Struct(">h"),
    ord("I"): struct.Struct(">i"),
    ord("i"): struct.Struct(">I"),
    ord("L"): struct.Struct(">q"),
    ord("l"): struct.Struct(">q"),
    ord("f"): struct.Struct(">f"),
    ord("d"): struct.Struct(">d"),
}


# -- encoding ---------------------------------------------------------------


def encode_short_string(pieces: list[bytes], value: str | bytes) -> int:
    """Append a short string (length octet + bytes); return the bytes written."""
    raw = shortstr(value, "short string")
    pieces.append(U8.pack(len(raw)) + raw)
    return len(raw) + 1


def encode_table(pieces: list[bytes], table: Mapping[str, Any] | None) -> int:
    """Append a field table (None is an empty table); return the bytes written."""
    raw = table_bytes(table, pieces)
    pieces.append(raw)
    return len(raw)


def encode_value(pieces: list[bytes], value: Any) -> int:
    """Append one tagged field value; return the bytes written."""
    raw = value_bytes(value, pieces)
    pieces.append(raw)
    return len(raw)


def table_bytes(table: Mapping[str, Any] | None, pieces: Sequence[object] | None = None) -> bytes:
    """Encode a field table with its 32-bit length prefix."""
    if not table:
        return _EMPTY_TABLE
    parts: list[bytes] = []
    table_into(parts, table, pieces)
    return b"".join(parts)


def table_into(
    parts: list[bytes], table: Mapping[str, Any] | None, pieces: Sequence[object] | None = None
) -> int:
    """Append a field table (length prefix first) to ``parts``; return its size.

    The message encoder joins its parts once, so the table is not joined on
    its own; the length prefix is patched in once the entries are counted.
    """
    if not table:
        parts.append(_EMPTY_TABLE)
        return 4
    at = len(parts)
    parts.append(_EMPTY_TABLE)
    size = 0
    for key, value in table.items():
        # Keys are hashable: a miss (or a non-str key) takes the checked path.
        name = _cached(key) or prefixed_shortstr(key, "field table key")
        # Inline the two commonest value types; value_bytes handles the rest.
        kind = type(value)
        if kind is str:
            raw = value.encode()
            length = len(raw)
            parts += (
                name,
                STR_HEADS[length] if length < _SMALL else _PACK_STR_HEAD(83, length),
                raw,
            )
            size += len(name) + 5 + length
            continue
        if kind is int and 0 <= value < _SMALL:
            raw = SMALL_INTS[value]
        elif kind is int and _INT32_MIN <= value <= _INT32_MAX:
            raw = _PACK_INT(73, value)
        else:
            raw = value_bytes(value, parts if pieces is None else pieces)
        parts += (name, raw)
        size += len(name) + len(raw)
    parts[at] = SIZES[size] if size < _SMALL else _PACK_SIZE(size)
    return size + 4


def value_bytes(value: Any, pieces: Sequence[object]) -> bytes:
    """Encode one value with its type tag; exact builtin types take the short path."""
    kind = type(value)
    if kind is str:
        raw: bytes = value.encode()
        return _TAGGED_U32.pack(83, len(raw)) + raw  # 'S'
    if kind is int:
        return _int_bytes(value)
    if kind is bool:
        return b"t\x01" if value else b"t\x00"
    return _other_bytes(value, pieces)


def _int_bytes(value: int) -> bytes:
    if _INT32_MIN <= value <= _INT32_MAX:
        return _TAGGED_I32.pack(73, value)  # 'I'
    return _TAGGED_I64.pack(108, value)  # 'l'; struct.error beyond 64 bits


class long(int):
    """An int always sent as a signed 64-bit field (``l``), like pika 1.x's ``compat.long``."""

    __slots__ = ()
    __module__ = "pika.compat"  # its public home


def _other_bytes(value: Any, pieces: Sequence[object]) -> bytes:
    # Subclasses land here; the order matters (bool is an int).
    if isinstance(value, long):
        return _TAGGED_I64.pack(108, value)  # 'l'
    if isinstance(value, str):
        raw = value.encode()
        return _TAGGED_U32.pack(83, len(raw)) + raw
    if isinstance(value, bytes):
        return _TAGGED_U32.pack(120, len(value)) + value  # 'x'
    if isinstance(value, bool):
        return b"t\x01" if value else b"t\x00"
    if isinstance(value, int):
        return _int_bytes(value)
    if isinstance(value, Decimal):
        return _decimal_bytes(value, pieces)
    if isinstance(value, datetime):
        return _TAGGED_U64.pack(84, calendar.timegm(value.utctimetuple()))  # 'T'
    if isinstance(value, dict):
        return b"F" + table_bytes(value, pieces)
    if isinstance(value, list):
        return b"A" + _array_bytes(value, pieces)
    if value is None:
        return b"V"
    raise UnsupportedAMQPFieldException(pieces, value)


def _decimal_bytes(value: Decimal, pieces: Sequence[object]) -> bytes:
    if not value.is_finite():
        raise UnsupportedAMQPFieldException(pieces, value)
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        return _DECIMAL.pack(68, -exponent, int(value.scaleb(-exponent)))
    return _DECIMAL.pack(68, 0, int(value))


def _array_bytes(values: list[Any], pieces: Sequence[object]) -> bytes:
    body = b"".join([value_bytes(item, pieces) for item in values])
    return U32.pack(len(body)) + body


# -- decoding ---------------------------------------------------------------


def decode_short_string(encoded: bytes | bytearray, offset: int) -> tuple[str | bytes, int]:
    """Decode a short string; bytes are returned when it is not UTF-8."""
    try:
        end = offset + 1 + encoded[offset]
    except IndexError as exc:
        raise truncated("short string") from exc
    if end > len(encoded):
        raise truncated("short string")
    return text(encoded[offset + 1 : end]), end


def decode_table(encoded: bytes | bytearray, offset: int) -> tuple[dict[str, Any], int]:
    """Decode a field table; return it and the offset just past it."""
    try:
        return decode_table_at(encoded, offset, 0)
    except (IndexError, struct.error) as exc:
        raise truncated("field table") from exc


def decode_value(encoded: bytes | bytearray, offset: int) -> tuple[Any, int]:
    """Decode one tagged field value; return it and the offset just past it."""
    try:
        return _value_at(encoded, offset, 0)
    except (IndexError, struct.error) as exc:
        raise truncated("field value") from exc


def _span(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Read a 32-bit length at ``pos``; return (start, end) of what it covers."""
    (size,) = U32.unpack_from(data, pos)
    end = pos + 4 + size
    if end > len(data):
        raise truncated("field table")
    return pos + 4, end


def decode_table_at(data: bytes | bytearray, pos: int, depth: int) -> tuple[dict[str, Any], int]:
    """decode_table without the exception translation (for generated code).

    May raise IndexError or struct.error on truncated input; callers wrap them.
    """
    (size,) = _U32(data, pos)
    pos += 4
    end = pos + size
    if end > len(data):
        raise truncated("field table")
    result: dict[Any, Any] = {}
    while pos < end:
        stop = pos + 1 + data[pos]
        raw = data[pos + 1 : stop]
        try:
            key: str | bytes = raw.decode()
        except UnicodeDecodeError:
            key = bytes(raw)
        # Inline the two commonest tags; _value_at handles every tag.
        try:
            tag, size = _TAG_WORD(data, stop)
        except struct.error:
            tag = 0  # under 5 bytes left: a short value or truncation, for _value_at
        if tag == 83:  # 'S'
            pos = stop + 5 + size
            raw = data[stop + 5 : pos]
            try:
                result[key] = raw.decode()
            except UnicodeDecodeError:
                result[key] = bytes(raw)
        elif tag == 73:  # 'I': the word read as unsigned, made signed
            result[key] = size - 0x100000000 if size > _INT32_MAX else size
            pos = stop + 5
        else:
            result[key], pos = _value_at(data, stop, depth)
    # A value running past the declared end (or past the data) lands here too.
    if pos != end:
        raise truncated("field table")
    return result, end


def _array_at(data: bytes | bytearray, pos: int, depth: int) -> tuple[list[Any], int]:
    pos, end = _span(data, pos)
    result: list[Any] = []
    while pos < end:
        value, pos = _value_at(data, pos, depth)
        result.append(value)
    if pos != end:
        raise truncated("field array")
    return result, end


def _value_at(data: bytes | bytearray, pos: int, depth: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    if tag == 83:  # 'S'
        start, end = _span(data, pos)
        return text(data[start:end]), end
    fixed = _FIXED.get(tag)
    if fixed is not None:
        return fixed.unpack_from(data, pos)[0], pos + fixed.size
    if tag == 116:  # 't'
        return data[pos] != 0, pos + 1
    if tag == 70 or tag == 65:  # 'F' or 'A'
        if depth >= MAX_NESTING:
            raise MalformedFrameError(SYNTAX_ERROR, "field table nested too deeply")
        if tag == 70:
            return decode_table_at(data, pos, depth + 1)
        return _array_at(data, pos, depth + 1)
    if tag == 120:  # 'x'
        start, end = _span(data, pos)
        return bytes(data[start:end]), end
    if tag == 86:  # 'V'
        return None, pos
    if tag == 68:  # 'D'
        scale, raw = _DECIMAL_BODY.unpack_from(data, pos)
        return Decimal(raw).scaleb(-scale), pos + 5
    if tag == 84:  # 'T'
        return _timestamp(U64.unpack_from(data, pos)[0]), pos + 8
    raise InvalidFieldTypeException(bytes((tag,)))


def _timestamp(seconds: int) -> datetime | int:
    """An aware UTC datetime; seconds beyond datetime's range stay an int.

    Raising here would turn one odd header into a poison message that kills
    every consumer's connection on each redelivery.
    """
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return seconds
