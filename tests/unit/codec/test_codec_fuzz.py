"""Property and fuzz tests: decoders either decode or raise the documented error.

Documented errors: ``MalformedFrameError`` (an ``InvalidFrameError``) from the
frame reader; ``InvalidFrameError`` or ``InvalidFieldTypeException`` from
``decode_frame`` and ``decode_table``. Anything else (IndexError,
struct.error, RecursionError, MemoryError, UnicodeDecodeError...) is a bug.
"""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pika import data, frame, spec
from pika._wire import writer
from pika._wire.errors import MalformedFrameError
from pika._wire.reader import ContentFrame, FrameReader
from pika.exceptions import InvalidFieldTypeException, InvalidFrameError

FUZZ = settings(max_examples=300, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
PROPS = spec.BasicProperties(
    content_type="text/plain", delivery_mode=2, headers={"a": [1, "b", {"c": None}], "d": True}
)


def valid_stream() -> bytes:
    return b"".join(
        [
            writer.encode_method(0, spec.Connection.Start(server_properties={"p": "RabbitMQ"})),
            writer.encode_content(
                1, spec.Basic.Deliver("t", 1, False, "e", "r"), PROPS, b"b" * 40, 32
            ),
            writer.HEARTBEAT_FRAME,
            writer.encode_content(1, spec.Basic.GetOk(2, True, "e", "r", 3), PROPS, b"", 4096),
            writer.encode_method(2, spec.Channel.Close(404, "NOT_FOUND", 50, 10)),
        ]
    )


VALID = valid_stream()


def mutate(wire: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    raw = bytearray(wire)
    for position, value in edits:
        raw[position % len(raw)] = value
    return bytes(raw[:cut] if cut is not None else raw)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)
cuts = st.none() | st.integers(0, len(VALID))
chunk_sizes = st.lists(st.integers(1, 64), min_size=1, max_size=12)


def drive_reader(wire: bytes, sizes: list[int], max_frame: int = 4096) -> list[object]:
    """Feed ``wire`` in chunks; stop at the first (documented) error."""
    frame_reader = FrameReader(max_frame)
    items: list[object] = []
    fed, pos, i = 0, 0, 0
    while pos < len(wire):
        chunk = wire[pos : pos + sizes[i % len(sizes)]]
        pos, i, fed = pos + len(chunk), i + 1, fed + len(chunk)
        frame_reader.feed(chunk)
        try:
            items += frame_reader.read()
        except MalformedFrameError as exc:
            assert exc.reply_code in (501, 502, 540)
            return items
        assert frame_reader.buffered <= fed
    return items


def check_item(item: object) -> None:
    if isinstance(item, ContentFrame):
        assert isinstance(item.body, bytes)
        assert isinstance(item.properties, spec.BasicProperties)
        assert spec.has_content(item.method.INDEX)
    else:
        assert isinstance(
            item, (frame.Method, frame.Header, frame.Body, frame.Heartbeat, frame.ProtocolHeader)
        )


@FUZZ
@given(st.binary(max_size=400), chunk_sizes)
def test_reader_random_bytes(wire: bytes, sizes: list[int]) -> None:
    for item in drive_reader(wire, sizes):
        check_item(item)


@FUZZ
@given(edits, cuts, chunk_sizes)
def test_reader_mutated_stream(
    edit_list: list[tuple[int, int]], cut: int | None, sizes: list[int]
) -> None:
    for item in drive_reader(mutate(VALID, edit_list, cut), sizes):
        check_item(item)


@FUZZ
@given(edits, cuts)
def test_reader_mutated_stream_whole(edit_list: list[tuple[int, int]], cut: int | None) -> None:
    for item in drive_reader(mutate(VALID, edit_list, cut), [len(VALID)]):
        check_item(item)


@FUZZ
@given(st.integers(0, 255), st.integers(0, 65535), st.integers(4089, 2**32 - 1))
def test_reader_rejects_a_bogus_length_at_the_header(kind: int, channel: int, size: int) -> None:
    header = bytes([kind]) + channel.to_bytes(2, "big") + size.to_bytes(4, "big")
    frame_reader = FrameReader(4096)
    tracemalloc.start()
    try:
        frame_reader.feed(header)
        try:
            assert frame_reader.read() == []
            assert kind == 65  # only "AMQP..." may wait for its 8th byte
        except MalformedFrameError as exc:
            assert exc.reply_code == 501
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def decode_all(wire: bytes) -> None:
    offset = 0
    while offset < len(wire):
        try:
            consumed, out = frame.decode_frame(wire, offset)
        except (InvalidFrameError, InvalidFieldTypeException):
            return
        if not consumed:
            assert out is None
            return
        assert 0 < consumed <= len(wire) - offset
        offset += consumed


@FUZZ
@given(st.binary(max_size=400))
def test_decode_frame_random_bytes(wire: bytes) -> None:
    decode_all(wire)


@FUZZ
@given(edits, cuts)
def test_decode_frame_mutated_stream(edit_list: list[tuple[int, int]], cut: int | None) -> None:
    decode_all(mutate(VALID, edit_list, cut))


def encoded_table(value: dict[str, Any] | None) -> bytes:
    pieces: list[bytes] = []
    data.encode_table(pieces, value)
    return b"".join(pieces)


TABLE = encoded_table(PROPS.headers)


@FUZZ
@given(
    st.binary(max_size=300)
    | st.builds(mutate, st.just(TABLE), edits, st.none() | st.integers(0, len(TABLE)))
)
def test_decode_table_random_and_mutated(raw: bytes) -> None:
    try:
        value, offset = data.decode_table(raw, 0)
    except (MalformedFrameError, InvalidFieldTypeException):
        return
    assert isinstance(value, dict)
    assert offset <= len(raw)


@FUZZ
@given(st.binary(max_size=200))
def test_properties_and_methods_decode_random_payloads(raw: bytes) -> None:
    for cls in [spec.BasicProperties, *spec.methods.values()]:
        try:
            cls().decode(raw)
        except (MalformedFrameError, InvalidFieldTypeException):
            pass


# -- round trips of generated values ------------------------------------------------

scalars = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=timezone.utc)
    ),
    st.none(),
)
keys = st.text(max_size=30).filter(lambda k: len(k.encode()) <= 255)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


@settings(max_examples=300, deadline=5000)
@given(st.dictionaries(keys, values, max_size=8))
def test_table_round_trip(table: dict[str, Any]) -> None:
    out, _ = data.decode_table(encoded_table(table), 0)
    assert normal(out) == normal(table)
