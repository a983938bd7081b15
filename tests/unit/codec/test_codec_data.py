"""pika.data (API.md §7): field tables, arrays and every type tag."""

from __future__ import annotations

import struct
import tracemalloc
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any

import pytest

from pika import data
from pika._wire.errors import FieldTypeError, MalformedFrameError
from pika.exceptions import (
    InvalidFieldTypeException,
    ShortStringTooLong,
    UnsupportedAMQPFieldException,
)
from tests.unit.codec.codec_samples import RICH_TABLE


def encode(value: Any) -> bytes:
    pieces: list[bytes] = []
    size = data.encode_value(pieces, value)
    raw = b"".join(pieces)
    assert size == len(raw)
    return raw


def table(entries: bytes) -> bytes:
    return struct.pack(">I", len(entries)) + entries


def test_round_trip_rich_table() -> None:
    pieces: list[bytes] = []
    size = data.encode_table(pieces, RICH_TABLE)
    raw = b"".join(pieces)
    assert size == len(raw)
    out, offset = data.decode_table(b"pre" + raw, 3)
    assert offset == len(raw) + 3
    assert out == RICH_TABLE
    assert type(out["int64_big"]) is int and type(out["true"]) is bool


def test_documented_round_trip() -> None:
    value = {"a": 1, "b": "s", "c": [1, 2], "d": {"e": True}, "f": None}
    pieces: list[bytes] = []
    data.encode_table(pieces, value)
    assert data.decode_table(b"".join(pieces), 0) == (value, len(b"".join(pieces)))


def test_none_table_is_empty() -> None:
    pieces: list[bytes] = []
    assert data.encode_table(pieces, None) == 4
    assert pieces == [b"\x00\x00\x00\x00"]
    assert data.decode_table(b"\x00\x00\x00\x00", 0) == ({}, 4)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("é", b"S\x00\x00\x00\x02\xc3\xa9"),
        (b"\x00\x01", b"x\x00\x00\x00\x02\x00\x01"),
        (True, b"t\x01"),
        (False, b"t\x00"),
        (5, b"I\x00\x00\x00\x05"),
        (-1, b"I\xff\xff\xff\xff"),
        (2**31 - 1, b"I\x7f\xff\xff\xff"),
        (2**31, b"l\x00\x00\x00\x00\x80\x00\x00\x00"),
        (-(2**31) - 1, b"l\xff\xff\xff\xff\x7f\xff\xff\xff"),
        (Decimal("1.50"), b"D\x01\x00\x00\x00\x0f"),
        (Decimal("-0.25"), b"D\x02\xff\xff\xff\xe7"),
        (Decimal("1E+2"), b"D\x00\x00\x00\x00\x64"),
        (datetime(1970, 1, 2, tzinfo=timezone.utc), b"T" + struct.pack(">Q", 86400)),
        (datetime(1970, 1, 2), b"T" + struct.pack(">Q", 86400)),  # naive counts as UTC
        (
            datetime(1970, 1, 2, 2, tzinfo=timezone(timedelta(hours=2))),
            b"T" + struct.pack(">Q", 86400),
        ),
        ({"k": 1}, b"F" + table(b"\x01kI\x00\x00\x00\x01")),
        ([1, "a"], b"A\x00\x00\x00\x0bI\x00\x00\x00\x01S\x00\x00\x00\x01a"),
        (None, b"V"),
        (OrderedDict(k=True), b"F" + table(b"\x01kt\x01")),
    ],
)
def test_encode_value_tags(value: Any, expected: bytes) -> None:
    assert encode(value) == expected


def test_subclasses_encode_like_their_base() -> None:
    class Level(IntEnum):
        HIGH = 7

    class Text(str):
        pass

    assert encode(Level.HIGH) == b"I\x00\x00\x00\x07"
    assert encode(Text("ab")) == b"S\x00\x00\x00\x02ab"


def test_int_beyond_64_bits_is_struct_error() -> None:
    with pytest.raises(struct.error):
        encode(2**63)


@pytest.mark.parametrize("value", [1.5, float("nan"), (1, 2), {1, 2}, bytearray(b"x"), object()])
def test_unsupported_values(value: Any) -> None:
    pieces: list[bytes] = [b"before"]
    with pytest.raises(UnsupportedAMQPFieldException) as info:
        data.encode_value(pieces, value)
    assert info.value.args[0] is pieces
    assert info.value.args[1] is value


def test_unsupported_value_inside_a_table() -> None:
    with pytest.raises(UnsupportedAMQPFieldException):
        data.encode_table([], {"ok": 1, "bad": 0.5})
    with pytest.raises(UnsupportedAMQPFieldException):
        data.encode_table([], {"nested": {"list": [1, 2.5]}})


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_decimal_is_unsupported(value: Decimal) -> None:
    with pytest.raises(UnsupportedAMQPFieldException):
        encode(value)


def test_table_key_checks() -> None:
    with pytest.raises(ShortStringTooLong):
        data.encode_table([], {"k" * 256: 1})
    with pytest.raises(ShortStringTooLong):  # not hidden by the memo of encoded keys
        data.encode_table([], {"k" * 256: 1})
    with pytest.raises(FieldTypeError):
        data.encode_table([], {1: 1})  # type: ignore[dict-item]
    raw: list[bytes] = []
    data.encode_table(raw, {b"bk": 1})  # type: ignore[dict-item]
    assert data.decode_table(b"".join(raw), 0)[0] == {"bk": 1}


def test_short_string_codec() -> None:
    pieces: list[bytes] = []
    assert data.encode_short_string(pieces, "añ") == 4
    assert data.encode_short_string(pieces, b"\xff") == 2
    raw = b"".join(pieces)
    assert data.decode_short_string(raw, 0) == ("añ", 4)
    assert data.decode_short_string(raw, 4) == (b"\xff", 6)
    with pytest.raises(ShortStringTooLong) as info:
        data.encode_short_string([], "x" * 256)
    assert info.value.args[0] == b"x" * 256
    with pytest.raises(MalformedFrameError):
        data.decode_short_string(b"\x05abc", 0)
    with pytest.raises(MalformedFrameError):
        data.decode_short_string(b"", 0)


# Every tag the decoder understands, with hand-written bytes.
DECODE_CASES = [
    (b"S\x00\x00\x00\x03abc", "abc"),
    (b"S\x00\x00\x00\x02\xff\xfe", b"\xff\xfe"),
    (b"x\x00\x00\x00\x02\xff\xfe", b"\xff\xfe"),
    (b"t\x00", False),
    (b"t\x01", True),
    (b"t\x07", True),
    (b"b\xff", -1),
    (b"B\xff", 255),
    (b"U\xff\xfe", -2),
    (b"u\xff\xfe", 65534),
    (b"s\xff\xfe", -2),
    (b"I\xff\xff\xff\xfe", -2),
    (b"i\xff\xff\xff\xfe", 2**32 - 2),
    (b"L\xff\xff\xff\xff\xff\xff\xff\xfe", -2),
    (b"l\xff\xff\xff\xff\xff\xff\xff\xfe", -2),
    (b"f" + struct.pack(">f", 1.5), 1.5),
    (b"d" + struct.pack(">d", -2.25), -2.25),
    (b"D\x02\x00\x00\x01\x3b", Decimal("3.15")),
    (b"D\x00\xff\xff\xff\xff", Decimal("-1")),
    (b"T" + struct.pack(">Q", 1_700_000_000), datetime.fromtimestamp(1_700_000_000, timezone.utc)),
    (b"F" + table(b"\x01aV"), {"a": None}),
    (b"A\x00\x00\x00\x03t\x01V", [True, None]),
    (b"V", None),
]


@pytest.mark.parametrize(("raw", "expected"), DECODE_CASES, ids=lambda c: repr(c)[:20])
def test_decode_value_tags(raw: bytes, expected: Any) -> None:
    value, offset = data.decode_value(raw + b"rest", 0)
    assert offset == len(raw)
    assert value == expected
    assert type(value) is type(expected)
    # The same value inside a table, from a bytearray.
    out, _ = data.decode_table(bytearray(table(b"\x03key" + raw)), 0)
    assert out == {"key": expected}
    assert type(out["key"]) is type(expected)


def test_floats_are_real_floats() -> None:
    assert data.decode_value(b"d" + struct.pack(">d", 1.5), 0)[0] == 1.5


def test_timestamp_is_aware_utc() -> None:
    value = data.decode_value(b"T" + struct.pack(">Q", 0), 0)[0]
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_timestamp_out_of_datetime_range_stays_int() -> None:
    assert data.decode_value(b"T" + b"\xff" * 8, 0)[0] == 2**64 - 1


def test_non_utf8_key_decodes_to_bytes() -> None:
    assert data.decode_table(table(b"\x01\xffV"), 0)[0] == {b"\xff": None}


def test_unknown_tag() -> None:
    with pytest.raises(InvalidFieldTypeException) as info:
        data.decode_table(table(b"\x01kZ"), 0)
    assert info.value.args[0] == b"Z"
    with pytest.raises(InvalidFieldTypeException):
        data.decode_value(b"?", 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x00",
        b"\x00\x00\x00\x05\x01a",  # declared size beyond the data
        table(b"\x05ab"),  # key runs past the table
        table(b"\x01aS\x00\x00\x00\x09abc"),  # string runs past the table
        table(b"\x01aI\x00\x00") + b"\x00\x00",  # value runs past the table
        table(b"\x01aF\xff\xff\xff\xffx"),  # bogus nested length
        table(b"\x01aA\x00\x00\x00\x02I\x00"),  # array item runs past the array
        table(b"\x01a"),  # key without a value
    ],
)
def test_malformed_tables(raw: bytes) -> None:
    with pytest.raises(MalformedFrameError) as info:
        data.decode_table(raw, 0)
    assert info.value.reply_code == 502


def test_bogus_length_does_not_allocate() -> None:
    raw = table(b"\x01aS\x7f\xff\xff\xffabc")
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFrameError):
            data.decode_table(raw, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    depth = 5000
    inner = b"V"
    for _ in range(depth):
        inner = b"A" + struct.pack(">I", len(inner)) + inner
    with pytest.raises(MalformedFrameError, match="nested too deeply"):
        data.decode_value(inner, 0)


def test_moderate_nesting_round_trips() -> None:
    value: Any = "leaf"
    for _ in range(data.MAX_NESTING - 1):
        value = {"n": value}
    pieces: list[bytes] = []
    data.encode_table(pieces, value)
    assert data.decode_table(b"".join(pieces), 0)[0] == value
