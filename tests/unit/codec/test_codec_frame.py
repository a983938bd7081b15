"""pika.frame (API.md §6): marshalling and decode_frame, whole and byte by byte."""

from __future__ import annotations

from typing import Any

import pytest

from pika import frame, spec
from pika._wire.errors import MalformedFrameError
from pika.exceptions import InvalidFrameError

PROPS = spec.BasicProperties(content_type="text/plain", delivery_mode=2, headers={"h": [1, "x"]})


def sample_frames() -> list[Any]:
    return [
        frame.Method(0, spec.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=60)),
        frame.Method(1, spec.Basic.Deliver("ctag", 7, True, "ex", "rk")),
        frame.Header(1, 11, PROPS),
        frame.Body(1, b"hello world"),
        frame.Heartbeat(),
        frame.Method(65535, spec.Channel.CloseOk()),
        frame.Header(2, 0, spec.BasicProperties()),
        frame.Body(2, b""),
    ]


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and vars(a) == vars(b)


def test_marshal_layout() -> None:
    assert frame.Heartbeat().marshal() == b"\x08\x00\x00\x00\x00\x00\x00\xce"
    assert frame.Body(3, b"ab").marshal() == b"\x03\x00\x03\x00\x00\x00\x02ab\xce"
    method = frame.Method(1, spec.Basic.Ack(delivery_tag=5, multiple=True)).marshal()
    assert method == b"\x01\x00\x01\x00\x00\x00\x0d\x00\x3c\x00\x50" + (5).to_bytes(8, "big") + (
        b"\x01\xce"
    )
    header = frame.Header(1, 300, spec.BasicProperties(priority=3)).marshal()
    assert header == (
        b"\x02\x00\x01\x00\x00\x00\x0f\x00\x3c\x00\x00"
        + (300).to_bytes(8, "big")
        + b"\x08\x00\x03\xce"
    )


def test_frame_attributes() -> None:
    method = frame.Method(5, spec.Basic.Qos())
    assert (method.frame_type, method.channel_number, method.NAME) == (1, 5, "METHOD")
    header = frame.Header(5, 10, PROPS)
    assert (header.frame_type, header.body_size, header.properties) == (2, 10, PROPS)
    body = frame.Body(5, b"x")
    assert (body.frame_type, body.fragment) == (3, b"x")
    beat = frame.Heartbeat()
    assert (beat.frame_type, beat.channel_number) == (8, 0)
    base = frame.Frame(1, 2)
    with pytest.raises(NotImplementedError):
        base.marshal()
    assert base._marshal([b"ab", b"c"]) == b"\x01\x00\x02\x00\x00\x00\x03abc\xce"


def test_protocol_header() -> None:
    header = frame.ProtocolHeader()
    assert (header.frame_type, header.major, header.minor, header.revision) == (-1, 0, 9, 1)
    assert header.marshal() == b"AMQP\x00\x00\x09\x01"
    assert frame.ProtocolHeader(0, 0, 0).marshal() == b"AMQP\x00\x00\x09\x01"
    assert frame.ProtocolHeader(1, 1, 8).marshal() == b"AMQP\x00\x01\x01\x08"


def test_repr() -> None:
    method = frame.Method(1, spec.Queue.DeclareOk(queue="q", message_count=0, consumer_count=0))
    assert repr(method) == (
        "<METHOD(['channel_number=1', 'frame_type=1', \"method=<Queue.DeclareOk("
        "['consumer_count=0', 'message_count=0', 'queue=q'])>\"])>"
    )


@pytest.mark.parametrize("index", range(len(sample_frames())))
def test_decode_whole(index: int) -> None:
    original = sample_frames()[index]
    wire = original.marshal()
    consumed, out = frame.decode_frame(wire + b"\x01trailing")
    assert consumed == len(wire)
    assert same(out, original)


def test_decode_stream_with_offsets() -> None:
    frames = sample_frames()
    wire = b"".join(f.marshal() for f in frames)
    offset = 0
    decoded = []
    while offset < len(wire):
        consumed, out = frame.decode_frame(wire, offset)
        assert consumed > 0
        decoded.append(out)
        offset += consumed
    assert all(same(a, b) for a, b in zip(decoded, frames, strict=True))


def test_decode_one_byte_at_a_time() -> None:
    frames = sample_frames()
    wire = frame.ProtocolHeader().marshal() + b"".join(f.marshal() for f in frames)
    buffer = b""
    decoded = []
    for byte in wire:
        buffer += bytes([byte])
        consumed, out = frame.decode_frame(buffer)
        if consumed:
            decoded.append(out)
            buffer = buffer[consumed:]
        else:
            assert out is None
    assert buffer == b""
    assert isinstance(decoded[0], frame.ProtocolHeader)
    assert all(same(a, b) for a, b in zip(decoded[1:], frames, strict=True))


def test_decode_protocol_header_keeps_the_version() -> None:
    consumed, out = frame.decode_frame(b"AMQP\x00\x00\x09\x01")
    assert consumed == 8 and isinstance(out, frame.ProtocolHeader)
    assert (out.major, out.minor, out.revision) == (0, 9, 1)
    _, other = frame.decode_frame(b"AMQP\x01\x01\x00\x0a")
    assert (other.major, other.minor, other.revision) == (1, 0, 10)
    assert frame.decode_frame(b"AMQ") == (0, None)


def test_bad_frame_end() -> None:
    wire = bytearray(frame.Body(1, b"x").marshal())
    wire[-1] = 0
    with pytest.raises(InvalidFrameError, match="Invalid FRAME_END marker"):
        frame.decode_frame(bytes(wire))


def test_unknown_frame_type() -> None:
    with pytest.raises(InvalidFrameError, match="Unknown frame type"):
        frame.decode_frame(b"\x09\x00\x00\x00\x00\x00\x00\xce")
    with pytest.raises(InvalidFrameError):
        frame.decode_frame(b"ABCDEFGH")


def test_unknown_method_is_not_implemented() -> None:
    wire = b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x03\xe7\xce"
    with pytest.raises(MalformedFrameError) as info:
        frame.decode_frame(wire)
    assert info.value.reply_code == 540


def test_unknown_content_class_is_not_implemented() -> None:
    wire = frame.Header(1, 0, spec.BasicProperties()).marshal()
    wire = wire[:7] + b"\x00\x3d" + wire[9:]
    with pytest.raises(MalformedFrameError) as info:
        frame.decode_frame(wire)
    assert info.value.reply_code == 540


@pytest.mark.parametrize(
    "payload",
    [b"\x00\x3c", b"\x00\x3c\x00\x3c\x05ab", b"\x00\x0a\x00\x0a\x00\x09\x00\x00\x00\x09"],
)
def test_truncated_method_payload(payload: bytes) -> None:
    wire = b"\x01\x00\x01" + len(payload).to_bytes(4, "big") + payload + b"\xce"
    with pytest.raises(MalformedFrameError) as info:
        frame.decode_frame(wire)
    assert info.value.reply_code == 502


def test_short_header_payload() -> None:
    with pytest.raises(MalformedFrameError):
        frame.decode_frame(b"\x02\x00\x01\x00\x00\x00\x02\x00\x3c\xce")
