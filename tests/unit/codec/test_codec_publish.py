"""pika._wire.publish: the generated Basic.Publish encoder with properties inline.

``encode_publish`` writes BasicProperties itself (no ``_encode_into`` call)
and packs the flag word with the content header's head, so it is checked
against the generic path (``writer.encode_content``, which goes through
``BasicProperties.encode``) and against the decoder, for every field.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pika import spec
from pika._wire import publish, writer
from pika._wire.errors import FieldTypeError
from pika._wire.reader import FrameReader
from pika.delivery_mode import DeliveryMode
from tests.unit.codec.codec_samples import property_fields

FRAME_MAX = 4096
FIELDS = {fld.name: fld.kind for fld in property_fields()}

header_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=300)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
short_text = st.text(max_size=40) | st.binary(max_size=40)
field_values: dict[str, st.SearchStrategy[Any]] = {
    "shortstr": short_text,
    "octet": st.integers(min_value=0, max_value=255),
    "timestamp": st.integers(min_value=0, max_value=2**64 - 1),
    "table": st.dictionaries(st.text(max_size=20), header_values, max_size=6),
}
properties = st.fixed_dictionaries(
    {}, optional={name: field_values[kind] for name, kind in FIELDS.items()}
)


def generic(channel: int, mandatory: bool, props: Any, body: bytes) -> bytes:
    method = spec.Basic.Publish(exchange="ex", routing_key="rk", mandatory=mandatory)
    return writer.encode_content(channel, method, props or spec.BasicProperties(), body, FRAME_MAX)


def decoded_properties(wire: bytes) -> spec.BasicProperties:
    frame_reader = FrameReader(FRAME_MAX)
    frame_reader.feed(wire)
    items: Any = frame_reader.read()
    return items[0][2] if len(items) == 1 else items[1].properties


@settings(max_examples=300, deadline=None)
@given(
    kwargs=properties,
    body=st.binary(max_size=9000),
    mandatory=st.booleans(),
    channel=st.integers(min_value=1, max_value=65535),
)
def test_matches_the_generic_path_and_round_trips(
    kwargs: dict[str, Any], body: bytes, mandatory: bool, channel: int
) -> None:
    props = spec.BasicProperties(**kwargs)
    wire = publish.encode_publish(channel, "ex", "rk", mandatory, props, body, FRAME_MAX)
    assert wire == generic(channel, mandatory, props, body)
    again = decoded_properties(wire)
    for name in FIELDS:
        value = kwargs.get(name)
        if isinstance(value, bytes) and FIELDS[name] == "shortstr":
            value = value.decode() if _utf8(value) else value
        if name == "headers" and value is not None:
            assert again.headers is not None and set(again.headers) == set(value)
            continue
        assert getattr(again, name) == value, name


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_no_properties_and_empty_properties_are_the_same_message() -> None:
    bare = publish.encode_publish(1, "", "q", False, None, b"x", FRAME_MAX)
    empty = publish.encode_publish(1, "", "q", False, spec.BasicProperties(), b"x", FRAME_MAX)
    method = spec.Basic.Publish(exchange="", routing_key="q")
    expected = writer.encode_content(1, method, spec.BasicProperties(), b"x", FRAME_MAX)
    assert bare == empty == expected


def test_fields_set_after_construction_and_foreign_attributes() -> None:
    props = spec.BasicProperties(content_type="text/plain")
    props.correlation_id = "c-1"  # a tail field, set later
    props.app_note = "not a property"  # type: ignore[attr-defined]
    wire = publish.encode_publish(1, "ex", "rk", False, props, b"", FRAME_MAX)
    assert wire == generic(1, False, props, b"")
    assert decoded_properties(wire).correlation_id == "c-1"


def test_only_tail_fields() -> None:
    props = spec.BasicProperties(message_id="m", timestamp=5, app_id="app")
    wire = publish.encode_publish(3, "ex", "rk", True, props, b"abc", FRAME_MAX)
    assert wire == generic(3, True, props, b"abc")
    again = decoded_properties(wire)
    assert (again.message_id, again.timestamp, again.app_id) == ("m", 5, "app")


@pytest.mark.parametrize("field", ["delivery_mode", "priority"])
@pytest.mark.parametrize("value", [0, 1, 255, True, DeliveryMode.Persistent])
def test_octet_fields_encode_like_struct(field: str, value: Any) -> None:
    props = spec.BasicProperties(**{field: value})
    wire = publish.encode_publish(1, "ex", "rk", False, props, b"", FRAME_MAX)
    assert wire == generic(1, False, props, b"")
    assert struct.pack(">B", value) in wire
    assert getattr(decoded_properties(wire), field) == int(value)


@pytest.mark.parametrize("field", ["delivery_mode", "priority"])
@pytest.mark.parametrize("value", [-1, -256, 256, 2.0, "2"])
def test_octet_fields_reject_what_struct_rejects(field: str, value: Any) -> None:
    props = spec.BasicProperties(**{field: value})
    with pytest.raises(struct.error):
        publish.encode_publish(1, "ex", "rk", False, props, b"", FRAME_MAX)
    with pytest.raises(struct.error):
        props.encode()


@pytest.mark.parametrize("field", ["content_type", "reply_to", "correlation_id", "app_id"])
@pytest.mark.parametrize("value", [bytearray(b"x"), ["x"], {"x": 1}, 5])
def test_short_string_fields_name_themselves_when_wrong(field: str, value: Any) -> None:
    props = spec.BasicProperties(**{field: value})
    with pytest.raises(FieldTypeError, match=rf"BasicProperties\.{field}"):
        publish.encode_publish(1, "ex", "rk", False, props, b"", FRAME_MAX)
    with pytest.raises(FieldTypeError, match=rf"BasicProperties\.{field}"):
        props.encode()
