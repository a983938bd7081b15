"""Memo of decoded content properties, keyed by their raw wire bytes.

Consumers often receive long runs of messages whose property bytes are
identical (same content type, delivery mode and headers), and decoding the
properties, field table included, is most of the cost of a delivery. The
memo maps the raw bytes to the decoded fields and hands out a new
``BasicProperties`` built from copies each time, so what users mutate
(attributes, the ``headers`` dict) never leaks into later messages. Only
properties whose header values are all immutable scalars are remembered: a
nested table or array would need a deep copy.

It is adaptive so that unique properties (message ids, timestamps) pay only
a slice, a failed lookup and a counter: every hit restores ``_CREDIT``
insertions and every miss spends one; without credit, only one miss in
``_PROBE`` is remembered, so a stream that turns repetitive is noticed. The
memo belongs to one ``FrameReader`` (one connection); it is bounded and
cleared when full.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pika import spec

__all__ = ["PropertiesMemo"]

_Properties = spec.BasicProperties
_new = object.__new__
_LIMIT = 256
_CREDIT = 64
_PROBE = 64  # a power of two: tested with a mask
_SCALARS = frozenset((str, bytes, int, bool, float, Decimal, datetime, type(None)))


class PropertiesMemo:
    """Decode ``BasicProperties`` from raw bytes, remembering repeated ones."""

    __slots__ = ("_credit", "_entries", "_last", "_last_entry")

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[dict[str, Any], bool]] = {}
        self._credit = _CREDIT
        # The entry hit last: consecutive deliveries usually share their
        # properties, and comparing bytes is cheaper than hashing them.
        self._last: bytes | None = None
        self._last_entry: tuple[dict[str, Any], bool] = ({}, False)

    def decode(self, raw: bytes) -> spec.BasicProperties | None:
        """Properties encoded in exactly ``raw``, or None if they do not fill it.

        Malformed input raises as ``BasicProperties.decode`` does.
        """
        props = _new(_Properties)
        if raw == self._last:
            entry: tuple[dict[str, Any], bool] | None = self._last_entry
        else:
            entry = self._entries.get(raw)
        if entry is not None:
            self._credit = _CREDIT
            self._last, self._last_entry = raw, entry
            fields, has_headers = entry
            fields = fields.copy()
            if has_headers:
                fields["headers"] = fields["headers"].copy()
            props.__dict__ = fields
            return props
        if props._decode_at(raw, 0) != len(raw):
            return None
        self._credit = credit = self._credit - 1
        if credit >= 0 or not credit & (_PROBE - 1):
            self._remember(raw, props.__dict__)
        return props

    def _remember(self, raw: bytes, fields: dict[str, Any]) -> None:
        headers = fields.get("headers")
        if headers is not None:
            if not all(type(value) in _SCALARS for value in headers.values()):
                return
            fields = {**fields, "headers": dict(headers)}
        else:
            fields = fields.copy()
        entries = self._entries
        if len(entries) >= _LIMIT:
            entries.clear()
        entries[raw] = (fields, headers is not None)
