"""pika._wire: FrameReader (fused content fast path) and the frame writer."""

from __future__ import annotations

import array
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pika import data, frame, spec
from pika._wire import publish, reader, writer
from pika._wire.errors import FieldTypeError, MalformedFrameError
from pika._wire.reader import ContentFrame, FrameReader
from pika.exceptions import ShortStringTooLong, UnsupportedAMQPFieldException

FRAME_MAX = 4096
PROPS = spec.BasicProperties(content_type="application/json", headers={"k": "v", "n": 1})


def content(
    channel: int, method: Any, props: Any, body: bytes, frame_max: int = FRAME_MAX
) -> bytes:
    return writer.encode_content(channel, method, props, body, frame_max)


def deliver(tag: int, routing_key: str | bytes = "rk") -> spec.Basic.Deliver:
    return spec.Basic.Deliver("ctag", tag, False, "ex", routing_key)


def sample_stream() -> tuple[bytes, list[tuple[Any, ...]]]:
    """Wire bytes of a varied conversation and the events it must decode to."""
    json_ = "application/json"
    parts: list[tuple[bytes, tuple[Any, ...]]] = [
        (writer.encode_method(0, spec.Connection.Tune(2047, 131072, 60)), ("method", 0)),
        (content(1, deliver(1), PROPS, b"small"), ("content", 1, 1, json_, b"small")),
        (writer.HEARTBEAT_FRAME, ("heartbeat",)),
        (content(1, deliver(2), spec.BasicProperties(), b""), ("content", 1, 2, None, b"")),
        (content(2, deliver(3), PROPS, b"x" * 10000), ("content", 2, 3, json_, b"x" * 10000)),
        (writer.encode_method(1, spec.Basic.CancelOk("ctag")), ("method", 1)),
        (
            content(3, spec.Basic.GetOk(9, False, "ex", "rk", 0), PROPS, b"got"),
            ("content", 3, 9, json_, b"got"),
        ),
        (
            content(3, spec.Basic.Return(312, "NO_ROUTE", "ex", "rk"), PROPS, b"back"),
            ("content", 3, None, json_, b"back"),
        ),
        (content(4, deliver(4, b"\xff"), PROPS, b"odd"), ("content", 4, 4, json_, b"odd")),
    ]
    return b"".join(p[0] for p in parts), [p[1] for p in parts]


class Assembler:
    """Turns reader items (fused or frame by frame) into comparable events."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.partial: dict[int, list[Any]] = {}

    def add(self, items: list[object]) -> None:
        for item in items:
            self._add(item)

    def _add(self, item: object) -> None:
        if isinstance(item, ContentFrame):
            self._content(item.channel_number, item.method, item.properties, item.body)
        elif isinstance(item, frame.Method) and spec.has_content(item.method.INDEX):
            self.partial[item.channel_number] = [item.method, None, b""]
        elif isinstance(item, frame.Method):
            self.events.append(("method", item.channel_number))
        elif isinstance(item, frame.Header):
            state = self.partial[item.channel_number]
            state[1] = item
            self._maybe_done(item.channel_number)
        elif isinstance(item, frame.Body):
            self.partial[item.channel_number][2] += item.fragment
            self._maybe_done(item.channel_number)
        elif isinstance(item, frame.Heartbeat):
            self.events.append(("heartbeat",))
        else:
            raise AssertionError(item)

    def _maybe_done(self, channel: int) -> None:
        method, header, body = self.partial[channel]
        if header is not None and len(body) == header.body_size:
            del self.partial[channel]
            self._content(channel, method, header.properties, body)

    def _content(self, channel: int, method: Any, props: Any, body: bytes) -> None:
        assert type(body) is bytes
        assert props in (PROPS, spec.BasicProperties())
        tag = getattr(method, "delivery_tag", None)
        self.events.append(("content", channel, tag, props.content_type, body))


def read_all(chunks: list[bytes], max_frame: int = FRAME_MAX) -> tuple[list[tuple[Any, ...]], int]:
    frame_reader = FrameReader(max_frame)
    assembler = Assembler()
    fused = 0
    for chunk in chunks:
        frame_reader.feed(chunk)
        items = frame_reader.read()
        fused += sum(isinstance(item, ContentFrame) for item in items)
        assembler.add(items)
    assert frame_reader.buffered == 0
    assert not assembler.partial
    return assembler.events, fused


def test_whole_stream_uses_the_fused_path() -> None:
    wire, expected = sample_stream()
    events, fused = read_all([wire])
    assert events == expected
    assert fused == 6


def test_one_byte_at_a_time() -> None:
    wire, expected = sample_stream()
    events, _ = read_all([wire[i : i + 1] for i in range(len(wire))])
    assert events == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3000), max_size=40))
def test_arbitrary_chunking(cuts: list[int]) -> None:
    wire, expected = sample_stream()
    chunks, pos = [], 0
    for size in cuts:
        chunks.append(wire[pos : pos + size])
        pos += size
    chunks.append(wire[pos:])
    events, _ = read_all(chunks)
    assert events == expected


def test_feed_accepts_bytearray_and_memoryview() -> None:
    wire, expected = sample_stream()
    half = len(wire) // 2
    events, _ = read_all([bytearray(wire[:half]), memoryview(wire)[half:]])  # type: ignore[list-item]
    assert events == expected


def test_fused_deliver_fields() -> None:
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(content(7, spec.Basic.Deliver("c", 2**64 - 1, True, "e", "r"), PROPS, b"b"))
    (item,) = frame_reader.read()
    assert isinstance(item, ContentFrame)
    channel, method, props, body = item
    assert channel == 7 and body == b"b" and props == PROPS
    assert isinstance(method, spec.Basic.Deliver)
    assert vars(method) == vars(spec.Basic.Deliver("c", 2**64 - 1, True, "e", "r"))


def test_non_utf8_names_fall_back_to_bytes_in_the_fused_path() -> None:
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(content(1, spec.Basic.Deliver(b"\xfe", 1, False, "e", b"\xff"), PROPS, b""))
    (item,) = frame_reader.read()
    assert isinstance(item, ContentFrame)
    assert (item.method.consumer_tag, item.method.routing_key) == (b"\xfe", b"\xff")


def test_interleaved_channel_falls_back_to_frames() -> None:
    deliver_frame = writer.encode_method(1, deliver(1))
    other = writer.encode_method(2, spec.Basic.QosOk())
    rest = content(1, deliver(1), PROPS, b"abc")[len(deliver_frame) :]
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(deliver_frame + other + rest)
    items = frame_reader.read()
    assert [type(i) for i in items] == [frame.Method, frame.Method, frame.Header, frame.Body]


def test_body_longer_than_declared_falls_back_to_frames() -> None:
    method = writer.encode_method(1, deliver(1))
    header = frame.Header(1, 2, PROPS).marshal()
    body = frame.Body(1, b"abc").marshal()
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(method + header + body)
    assert [type(i) for i in frame_reader.read()] == [frame.Method, frame.Header, frame.Body]


def test_trailing_bytes_in_a_header_take_the_frame_path() -> None:
    wire = content(1, deliver(1), PROPS, b"abc")
    method_end = len(writer.encode_method(1, deliver(1)))
    header_end = wire.index(b"\xce\x03", method_end) + 1
    # Grow the header payload by one junk byte (the frame size goes up by one).
    header = bytearray(wire[method_end:header_end])
    header[3:7] = (int.from_bytes(header[3:7], "big") + 1).to_bytes(4, "big")
    header[-1:] = b"\x00\xce"
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(wire[:method_end] + bytes(header) + wire[header_end:])
    items = frame_reader.read()
    assert [type(i) for i in items] == [frame.Method, frame.Header, frame.Body]
    assert items[1].properties == PROPS


def test_protocol_header_from_the_peer() -> None:
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(b"AMQ")
    assert frame_reader.read() == []
    frame_reader.feed(b"P\x00\x00\x09")  # 7 bytes: still waiting for the 8th
    assert frame_reader.read() == []
    frame_reader.feed(b"\x01" + writer.HEARTBEAT_FRAME)
    header, beat = frame_reader.read()
    assert isinstance(header, frame.ProtocolHeader) and isinstance(beat, frame.Heartbeat)
    assert (header.major, header.minor, header.revision) == (0, 9, 1)


# -- malformed input ------------------------------------------------------------


def expect_error(wire: bytes, code: int, max_frame: int = FRAME_MAX) -> MalformedFrameError:
    frame_reader = FrameReader(max_frame)
    frame_reader.feed(wire)
    with pytest.raises(MalformedFrameError) as info:
        frame_reader.read()
    assert info.value.reply_code == code
    return info.value


def test_oversize_frame_is_rejected_at_the_header() -> None:
    # Only the 7 header bytes: no payload needed to know it is too big.
    error = expect_error(b"\x03\x00\x01\x7f\xff\xff\xff", 501)
    assert "exceeds frame_max" in error.text
    expect_error(frame.Body(1, b"x" * 100).marshal(), 501, max_frame=100)
    frame_reader = FrameReader(108)
    frame_reader.feed(frame.Body(1, b"x" * 100).marshal())
    assert len(frame_reader.read()) == 1


def test_framing_errors() -> None:
    expect_error(b"\x05\x00\x00\x00\x00\x00\x00\xce", 501)  # unknown type
    expect_error(b"\x03\x00\x01\x00\x00\x00\x01x\x00", 501)  # bad frame end
    expect_error(b"\x08\x00\x01\x00\x00\x00\x00\xce", 501)  # heartbeat on channel 1
    expect_error(b"\x08\x00\x00\x00\x00\x00\x01x\xce", 501)  # heartbeat with payload
    expect_error(b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x03\xe7\xce", 540)  # unknown method
    expect_error(b"\x01\x00\x01\x00\x00\x00\x02\x00\x3c\xce", 502)  # no room for a method id


def test_unknown_table_tag_is_a_syntax_error_fused_or_not() -> None:
    bad = bytearray(content(1, deliver(1), spec.BasicProperties(headers={"k": 1}), b"abc"))
    bad[bad.index(b"kI") + 1] = ord("Z")
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(bytes(bad))
    # The method frame is fine and comes out first; the header then fails.
    assert [type(i) for i in frame_reader.read()] == [frame.Method]
    with pytest.raises(MalformedFrameError) as info:
        frame_reader.read()
    assert info.value.reply_code == 502
    header_only = bad[bad.index(b"\x02\x00\x01") :]
    expect_error(bytes(header_only), 502)


def test_items_before_an_error_are_returned_first() -> None:
    good = writer.encode_method(1, spec.Basic.QosOk()) + content(1, deliver(1), PROPS, b"x")
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(good + b"\x05\x00\x00\x00\x00\x00\x00\xce")
    items = frame_reader.read()
    assert [type(i) for i in items] == [frame.Method, ContentFrame]
    for _ in range(2):
        with pytest.raises(MalformedFrameError):
            frame_reader.read()


def test_max_frame_size_is_settable() -> None:
    frame_reader = FrameReader(spec.FRAME_MIN_SIZE)
    assert frame_reader.max_frame_size == 8192
    frame_reader.max_frame_size = 131072
    frame_reader.feed(frame.Body(1, b"x" * 100_000).marshal())
    assert len(frame_reader.read()) == 1
    for bad in (0, 7, "8192", None):
        with pytest.raises(ValueError, match="max_frame_size"):
            frame_reader.max_frame_size = bad  # type: ignore[assignment]


def test_buffer_is_compacted() -> None:
    frame_reader = FrameReader(FRAME_MAX)
    one = content(1, deliver(1), PROPS, b"y" * 300)
    for _ in range(2000):
        frame_reader.feed(one[:100])
        frame_reader.feed(one[100:])
        assert len(frame_reader.read()) == 1
    assert len(frame_reader._buf) < 1000


# -- copying and memory -----------------------------------------------------------


def peak_during(func: Any) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = func()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


def test_large_body_is_copied_once_when_reading() -> None:
    size = 1 << 20
    wire = content(1, deliver(1), PROPS, b"z" * size, frame_max=131072)
    frame_reader = FrameReader(131072)

    def read() -> list[object]:
        frame_reader.feed(wire)
        return frame_reader.read()

    peak = peak_during(read)
    assert peak < size * 1.2, peak


def test_large_body_is_copied_once_when_writing() -> None:
    size = 4 << 20
    body = b"z" * size
    peak = peak_during(lambda: publish.encode_publish(1, "", "q", False, None, body, 131072))
    assert peak < size * 1.2, peak
    view = memoryview(bytearray(body))
    peak = peak_during(lambda: writer.encode_content(1, spec.Basic.Publish(), PROPS, view, 131072))
    assert peak < size * 1.2, peak


def test_large_body_read_in_pieces() -> None:
    body = bytes(range(256)) * 4096
    wire = content(1, deliver(1), PROPS, body, frame_max=131072)
    chunks = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]
    frame_reader = FrameReader(131072)
    assembler = Assembler()
    for chunk in chunks:
        frame_reader.feed(chunk)
        assembler.add(frame_reader.read())
    assert assembler.events == [("content", 1, 1, "application/json", body)]


# -- writer -----------------------------------------------------------------------


def test_constants() -> None:
    assert writer.PROTOCOL_HEADER == b"AMQP\x00\x00\x09\x01"
    assert frame.ProtocolHeader().marshal() == writer.PROTOCOL_HEADER
    assert frame.Heartbeat().marshal() == writer.HEARTBEAT_FRAME


def test_encode_method_matches_frame_marshal() -> None:
    method = spec.Queue.Declare(queue="q", durable=True, arguments={"x-max-length": 10})
    assert writer.encode_method(5, method) == frame.Method(5, method).marshal()


def test_encode_content_splits_body() -> None:
    wire = content(1, spec.Basic.Publish(), spec.BasicProperties(), b"a" * 25, frame_max=18)
    offset, frames = 0, []
    while offset < len(wire):
        consumed, out = frame.decode_frame(wire, offset)
        frames.append(out)
        offset += consumed
    assert [type(f) for f in frames] == [frame.Method, frame.Header] + [frame.Body] * 3
    assert [len(f.fragment) for f in frames[2:]] == [10, 10, 5]
    assert frames[1].body_size == 25


def test_empty_body_has_no_body_frame() -> None:
    wire = publish.encode_publish(1, "", "q", False, None, b"", FRAME_MAX)
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(wire)
    frame_reader.max_frame_size = FRAME_MAX
    items = frame_reader.read()
    assert [type(i) for i in items] == [frame.Method, frame.Header]


@pytest.mark.parametrize("props", [None, spec.BasicProperties(), PROPS])
@pytest.mark.parametrize("mandatory", [False, True])
@pytest.mark.parametrize("body", [b"", b"abc", b"q" * 5000])
def test_encode_publish_matches_the_generic_path(props: Any, mandatory: bool, body: bytes) -> None:
    fast = publish.encode_publish(9, "ex", "rk", mandatory, props, body, FRAME_MAX)
    method = spec.Basic.Publish(exchange="ex", routing_key="rk", mandatory=mandatory)
    slow = content(9, method, props or spec.BasicProperties(), body)
    assert fast == slow
    joined = (
        frame.Method(9, method).marshal()
        + frame.Header(9, len(body), props or spec.BasicProperties()).marshal()
    )
    assert fast.startswith(joined)


@pytest.mark.parametrize(
    "body",
    [
        b"data",
        bytearray(b"data"),
        memoryview(b"data"),
        "data",
        memoryview(b"xdatax")[1:5],
        memoryview(b"dxaxtxax")[::2],
    ],
)
def test_body_types(body: Any) -> None:
    wire = publish.encode_publish(1, b"ex", "rk", False, None, body, FRAME_MAX)
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(wire)
    *_, body_frame = frame_reader.read()
    assert body_frame.fragment == b"data"


def test_str_body_is_utf8_and_multibyte_views_are_flattened() -> None:
    wire = publish.encode_publish(1, "", "q", False, None, "é", FRAME_MAX)
    assert wire.endswith(b"\x03\x00\x01\x00\x00\x00\x02\xc3\xa9\xce")
    numbers = array.array("I", [1, 2])
    wire = writer.encode_content(1, spec.Basic.Publish(), PROPS, memoryview(numbers), FRAME_MAX)
    assert wire.endswith(b"\x00\x00\x00\x08" + numbers.tobytes() + b"\xce")


def test_encoding_errors() -> None:
    with pytest.raises(ValueError, match="frame_max"):
        publish.encode_publish(1, "", "q", False, None, b"x", 8)
    with pytest.raises(ValueError, match="frame_max"):
        writer.encode_content(1, spec.Basic.Publish(), PROPS, b"", 0)
    with pytest.raises(FieldTypeError, match="routing_key"):
        publish.encode_publish(1, "", 5, False, None, b"x", FRAME_MAX)  # type: ignore[arg-type]
    with pytest.raises(ShortStringTooLong):
        publish.encode_publish(1, "e" * 256, "q", False, None, b"x", FRAME_MAX)
    with pytest.raises(FieldTypeError):
        bad = spec.BasicProperties(expiration=60000)  # type: ignore[arg-type]
        publish.encode_publish(1, "", "q", False, bad, b"x", FRAME_MAX)


def publish_frame(channel: int, exchange: Any, routing_key: Any, mandatory: Any) -> bytes:
    method = spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
    return writer.encode_method(channel, method)


@pytest.mark.parametrize(
    ("channel", "exchange", "routing_key", "mandatory"),
    [
        (1, "ex", "rk", False),
        (2, "ex", "rk", False),
        (1, "ex", "rk", True),
        (1, "ex", "rk", 1),
        (1, "ex", "other", False),
        (1, b"ex", b"rk", False),
        (1, "é", "rk", 0),
        (1, "ex", "rk", "yes"),
        (1, "ex", "rk", [1]),
    ],
)
def test_remembered_publish_frames_match_their_arguments(
    channel: int, exchange: Any, routing_key: Any, mandatory: Any
) -> None:
    expected = publish_frame(channel, exchange, routing_key, bool(mandatory))
    for _ in range(3):  # the first call fills the memo, the others read it
        wire = publish.encode_publish(channel, exchange, routing_key, mandatory, None, b"", 4096)
        assert wire.startswith(expected)
        assert len(wire) == len(expected) + 22


def test_remembered_publish_frames_are_bounded() -> None:
    for index in range(writer._PUBLISH_FRAMES_LIMIT + 10):
        publish.encode_publish(1, "ex", f"rk{index}", False, None, b"", 4096)
    assert len(writer.PUBLISH_FRAMES) <= writer._PUBLISH_FRAMES_LIMIT


def test_unhashable_names_are_still_type_checked() -> None:
    with pytest.raises(FieldTypeError, match="exchange"):
        publish.encode_publish(1, bytearray(b"x"), "q", False, None, b"", 4096)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"s": "x" * 300, "big": 2**40, "neg": -1, "i": 70000, "t": True, "b": b"raw"},
        {b"bytes-key": 1, "é": "ü"},
        {"nested": {"a": [1, "b"]}, "none": None},
    ],
)
def test_inline_headers_table_matches_the_table_encoder(headers: dict[str, Any]) -> None:
    props = spec.BasicProperties(headers=headers, delivery_mode=1, message_id="m")
    wire = publish.encode_publish(1, "", "q", False, props, b"", 4096)
    raw = b"".join(props.encode())
    assert raw[:2] == b"\x30\x80"
    assert raw[2:].startswith(data.table_bytes(headers))
    assert wire.endswith(raw + b"\xce")
    keys_as_text = {k.decode() if isinstance(k, bytes) else k: v for k, v in headers.items()}
    assert spec.BasicProperties().decode(raw).headers == keys_as_text


def test_unsupported_header_value_raises_from_the_inline_table() -> None:
    props = spec.BasicProperties(headers={"ok": 1, "bad": 0.5})
    with pytest.raises(UnsupportedAMQPFieldException):
        publish.encode_publish(1, "", "q", False, props, b"", 4096)


def test_short_method_frame_takes_the_frame_path() -> None:
    # A method frame whose payload is under 4 bytes (no method id) is malformed.
    bad = b"\x01\x00\x01\x00\x00\x00\x02\x00\x3c\xce" + writer.HEARTBEAT_FRAME
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(bad)
    with pytest.raises(MalformedFrameError):
        frame_reader.read()


def test_reader_module_exports() -> None:
    assert reader.__all__ == ["ContentFrame", "FrameReader"]
    assert ContentFrame._fields == ("channel_number", "method", "properties", "body")
