"""The reader's properties memo: repeated property bytes, fresh objects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pika import data, spec
from pika._wire import propmemo
from pika._wire.propmemo import PropertiesMemo


def raw_of(props: spec.BasicProperties) -> bytes:
    return b"".join(props.encode())


def sample() -> spec.BasicProperties:
    return spec.BasicProperties(
        content_type="text/plain", delivery_mode=2, headers={"a": 1, "b": "x", "c": Decimal("1.5")}
    )


def test_repeated_properties_decode_equal_and_independent() -> None:
    memo = PropertiesMemo()
    raw = raw_of(sample())
    first = memo.decode(raw)
    second = memo.decode(raw)
    assert first == second == sample()
    assert first is not second
    assert first is not None and second is not None
    assert first.headers is not second.headers
    first.headers["a"] = 99  # type: ignore[index]
    first.content_type = "changed"
    third = memo.decode(raw)
    assert third == sample()
    assert list(vars(third)) == list(vars(spec.BasicProperties().decode(raw)))


def test_nested_headers_are_not_shared() -> None:
    memo = PropertiesMemo()
    raw = raw_of(spec.BasicProperties(headers={"x-death": [{"count": 1}]}))
    first = memo.decode(raw)
    assert first is not None and first.headers is not None
    first.headers["x-death"][0]["count"] = 5
    again = memo.decode(raw)
    assert again is not None and again.headers == {"x-death": [{"count": 1}]}


def test_properties_that_do_not_fill_the_bytes_are_refused() -> None:
    assert PropertiesMemo().decode(raw_of(sample()) + b"\x00") is None


def test_unique_properties_stop_filling_the_memo() -> None:
    memo = PropertiesMemo()
    for index in range(propmemo._CREDIT + propmemo._PROBE * 2):
        props = memo.decode(raw_of(spec.BasicProperties(message_id=str(index))))
        assert props is not None and props.message_id == str(index)
    # Credit, then one probe per _PROBE misses.
    assert len(memo._entries) == propmemo._CREDIT + 2


def test_memo_is_bounded() -> None:
    memo = PropertiesMemo()
    raw = raw_of(sample())
    for index in range(propmemo._LIMIT * 3):
        memo.decode(raw)  # hits restore the credit
        memo.decode(raw_of(spec.BasicProperties(message_id=str(index))))
    assert len(memo._entries) <= propmemo._LIMIT


def test_malformed_properties_raise() -> None:
    with pytest.raises(data.MalformedFrameError):
        PropertiesMemo().decode(raw_of(sample())[:-3])


@pytest.mark.parametrize("table", [{"a": True}, {"b": None}, {"c": 1}, {"d": "s"}])
def test_table_with_short_last_value(table: dict[str, object]) -> None:
    encoded = data.table_bytes(table)
    assert data.decode_table(encoded, 0) == (table, len(encoded))


def test_alternating_properties_decode_correctly() -> None:
    memo = PropertiesMemo()
    one = raw_of(sample())
    two = raw_of(spec.BasicProperties(content_type="other", headers={"a": "b"}))
    for _ in range(3):
        first, second = memo.decode(one), memo.decode(two)
        assert first == sample()
        assert second == spec.BasicProperties(content_type="other", headers={"a": "b"})


def test_a_fresh_memo_does_not_take_empty_bytes_for_a_hit() -> None:
    with pytest.raises(Exception, match="BasicProperties"):
        PropertiesMemo().decode(b"")
