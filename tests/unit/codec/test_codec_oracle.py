"""Oracle tests: our codec against pamqp, an independent AMQP 0-9-1 implementation.

Each direction is checked: what we encode pamqp must decode to the same
meaning, and what pamqp encodes we must decode to the same meaning.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

pamqp = pytest.importorskip("pamqp")
from pamqp import commands as pc  # noqa: E402
from pamqp import decode as pdecode  # noqa: E402
from pamqp import encode as pencode  # noqa: E402
from pamqp import frame as pframe  # noqa: E402
from pamqp import header as pheader  # noqa: E402

from pika import data, frame, spec  # noqa: E402
from pika._wire import publish, reader, writer  # noqa: E402
from tests.unit.codec.codec_samples import RICH_TABLE, method_fields  # noqa: E402

# pamqp has no Access class (deprecated in 0-9-1; RabbitMQ still answers it).
METHODS = [(cls, fields) for cls, fields in method_fields() if not cls.NAME.startswith("Access.")]
IDS = [cls.NAME for cls, _ in METHODS]

# Values every field validator in pamqp accepts too.
ORACLE_SAMPLES: dict[str, list[Any]] = {
    "bit": [True, False],
    "octet": [0, 9, 255],
    "short": [0, 300, 65535],
    "long": [0, 70000, 2**32 - 1],
    # pamqp reads longlong as signed, so stay below 2**63 (our own tests cover 2**64 - 1).
    "longlong": [0, 2**40 + 3, 2**63 - 1],
    # pamqp refuses names over 127 characters.
    "shortstr": ["amq.gen-Qx_1", "", "q" * 127],
    "longstr": [b"\x00guest\x00secret", b"", b"PLAIN AMQPLAIN"],
    "table": [RICH_TABLE, None, {"x-max-length": 10, "x-queue-type": "quorum"}],
}
# pamqp pins a few fields to fixed values.
PAMQP_FIXED = {
    "Channel.Open": {"out_of_band": "0"},
    "Channel.OpenOk": {"channel_id": "0"},
    "Connection.Open": {"capabilities": "", "insist": False},
    "Connection.OpenOk": {"known_hosts": ""},
    "Access.Request": {"realm": "/data"},
    "Connection.Start": {"version_major": 0, "version_minor": 9},
    "Basic.GetEmpty": {"cluster_id": ""},
}


def oracle_kwargs(cls: type, fields: Any, variant: int) -> dict[str, Any]:
    kwargs = {}
    for position, fld in enumerate(fields):
        values = ORACLE_SAMPLES[fld.kind]
        kwargs[fld.name] = values[(variant + position) % len(values)]
    kwargs.update(PAMQP_FIXED.get(cls.NAME, {}))
    if "ticket" in kwargs:
        kwargs["ticket"] = 0  # pamqp insists on the reserved value
    return kwargs


def norm(value: Any) -> Any:
    """Meaning-preserving normal form: text as str, binary as bytes, aware datetimes."""
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def norm_field(kind: str, value: Any) -> Any:
    if kind == "longstr":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind == "shortstr":
        return value.decode() if isinstance(value, bytes) else value
    if kind == "table":
        return norm(value or {})
    if kind == "bit":
        return bool(value)
    return value


def pamqp_values(obj: Any) -> list[Any]:
    return [getattr(obj, slot) for slot in type(obj).__slots__]


def to_pamqp_table(value: Any) -> Any:
    """pamqp encodes binary from bytearray, not bytes."""
    if isinstance(value, dict):
        return {k: to_pamqp_table(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_pamqp_table(v) for v in value]
    if isinstance(value, bytes):
        return bytearray(value)
    return value


@pytest.mark.filterwarnings("ignore:This command is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("cls", "fields"), METHODS, ids=IDS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_our_methods_decode_in_pamqp(cls: Any, fields: Any, variant: int) -> None:
    kwargs = oracle_kwargs(cls, fields, variant)
    wire = writer.encode_method(3, cls(**kwargs))
    consumed, channel, theirs = pframe.unmarshal(wire)
    assert (consumed, channel) == (len(wire), 3)
    assert theirs.index == cls.INDEX
    got = [norm_field(f.kind, v) for f, v in zip(fields, pamqp_values(theirs), strict=True)]
    assert got == [norm_field(f.kind, kwargs[f.name]) for f in fields]


@pytest.mark.filterwarnings("ignore:This command is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("cls", "fields"), METHODS, ids=IDS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_pamqp_methods_decode_here(cls: Any, fields: Any, variant: int) -> None:
    kwargs = oracle_kwargs(cls, fields, variant)
    pamqp_cls = pc.INDEX_MAPPING[cls.INDEX]
    args = [to_pamqp_table(kwargs[f.name]) if f.kind == "table" else kwargs[f.name] for f in fields]
    args = [a.decode() if isinstance(a, bytes) else a for a in args]
    wire = pframe.marshal(pamqp_cls(*args), 5)
    consumed, ours = frame.decode_frame(wire)
    assert consumed == len(wire)
    assert isinstance(ours, frame.Method) and type(ours.method) is cls
    got = [norm_field(f.kind, getattr(ours.method, f.name)) for f in fields]
    assert got == [norm_field(f.kind, kwargs[f.name]) for f in fields]


PROPERTIES = {
    "content_type": "application/json",
    "content_encoding": "gzip",
    "headers": RICH_TABLE,
    "delivery_mode": 2,
    "priority": 9,
    "correlation_id": "corr-1",
    "reply_to": "amq.rabbitmq.reply-to",
    "expiration": "60000",
    "message_id": "id-42",
    "timestamp": 1_700_000_000,
    "type": "event",
    "user_id": "guest",
    "app_id": "app",
}
PAMQP_NAMES = {"type": "message_type"}


@pytest.mark.parametrize("present", [list(PROPERTIES), ["content_type"], ["headers", "app_id"], []])
def test_content_header_both_ways(present: list[str]) -> None:
    values = {name: PROPERTIES[name] for name in present}
    ours = spec.BasicProperties(**values)
    _, _, theirs = pframe.unmarshal(frame.Header(1, 1234, ours).marshal())
    assert theirs.body_size == 1234
    for name in PROPERTIES:
        got = getattr(theirs.properties, PAMQP_NAMES.get(name, name))
        if name == "timestamp" and got is not None:
            got = int(norm(got).timestamp())
        assert norm(got) == norm(values.get(name)), name

    pamqp_values_ = {PAMQP_NAMES.get(k, k): to_pamqp_table(v) for k, v in values.items()}
    if "timestamp" in values:
        pamqp_values_["timestamp"] = datetime.fromtimestamp(values["timestamp"], timezone.utc)
    wire = pframe.marshal(pheader.ContentHeader(0, 99, pc.Basic.Properties(**pamqp_values_)), 2)
    _, header = frame.decode_frame(wire)
    assert header.body_size == 99
    assert {n: norm(getattr(header.properties, n)) for n in PROPERTIES} == {
        n: norm(values.get(n)) for n in PROPERTIES
    }


def test_whole_message_from_pamqp_takes_the_fused_path() -> None:
    deliver = pc.Basic.Deliver("ctag", 77, True, "ex", "rk")
    props = pc.Basic.Properties(content_type="text/plain", headers={"a": 1})
    wire = b"".join(
        [
            pframe.marshal(deliver, 4),
            pframe.marshal(pheader.ContentHeader(0, 6, props), 4),
            pframe.marshal(pamqp.body.ContentBody(b"abc"), 4),
            pframe.marshal(pamqp.body.ContentBody(b"def"), 4),
        ]
    )
    frame_reader = reader.FrameReader(131072)
    frame_reader.feed(wire)
    (item,) = frame_reader.read()
    assert isinstance(item, reader.ContentFrame)
    assert item.body == b"abcdef"
    assert (item.method.consumer_tag, item.method.delivery_tag, item.method.redelivered) == (
        "ctag",
        77,
        True,
    )
    assert item.properties == spec.BasicProperties(content_type="text/plain", headers={"a": 1})


def test_our_publish_decodes_in_pamqp() -> None:
    props = spec.BasicProperties(content_type="a/b", delivery_mode=2, headers={"k": "v"})
    wire = publish.encode_publish(1, "ex", "rk", True, props, b"x" * 30, 20)
    items = []
    while wire:
        consumed, _, value = pframe.unmarshal(wire)
        items.append(value)
        wire = wire[consumed:]
    method, header, *bodies = items
    assert (method.exchange, method.routing_key, method.mandatory) == ("ex", "rk", True)
    assert header.body_size == 30 and header.properties.headers == {"k": "v"}
    assert b"".join(b.value for b in bodies) == b"x" * 30
    assert [len(b.value) for b in bodies] == [12, 12, 6]


TABLES = [
    RICH_TABLE,
    {},
    {"k" * 128: "v" * 1000},  # pamqp truncates longer keys
    {"ints": [0, 1, -1, 127, -128, 255, 32767, -32768, 2**31 - 1, -(2**31), 2**62, -(2**62)]},
    {"decimals": [Decimal("0"), Decimal("0.001"), Decimal("-12345.6789"), Decimal("1E+3")]},
    {"deep": {"a": {"b": {"c": {"d": [[[{"e": None}]]]}}}}},
    {"utf8": "日本語", "keyé": True},
    {"when": [datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2038, 1, 19, 3, 14, 8)]},
]


@pytest.mark.parametrize("value", TABLES, ids=range(len(TABLES)))
def test_tables_we_encode_decode_in_pamqp(value: dict[str, Any]) -> None:
    pieces: list[bytes] = []
    data.encode_table(pieces, value)
    raw = b"".join(pieces)
    consumed, theirs = pdecode.field_table(raw)
    assert consumed == len(raw)
    assert norm(theirs) == norm(value)


@pytest.mark.parametrize("value", TABLES, ids=range(len(TABLES)))
def test_tables_pamqp_encodes_decode_here(value: dict[str, Any]) -> None:
    raw = pencode.field_table(to_pamqp_table(value))
    ours, offset = data.decode_table(raw, 0)
    assert offset == len(raw)
    assert norm(ours) == norm(value)


def test_pamqp_small_ints_and_floats_decode_here() -> None:
    # pamqp picks the narrowest integer tag and encodes floats; we decode them all.
    value = {"b": -5, "s": -300, "i": 70000, "l": 2**40, "f": 1.5, "flag": False}
    ours, _ = data.decode_table(pencode.field_table(value), 0)
    assert ours == value
    assert type(ours["f"]) is float
