"""Memo of decoded content properties, keyed by their raw wire bytes.

Consumers often receive long runs of messages whose property bytes are
identical (same content type, delivery mode and headers), and decoding the
properties, field table included, is most of the cost of a delivery. The
memo maps the raw bytes to the decoded fields and hands out a fresh
``BasicProperties`` built from a copy each time, so what users mutate
(attributes, the ``headers`` dict) never leaks into later messages. Only
properties whose header values are all immutable scalars are remembered: a
nested table or array would need a deep copy.

It is adaptive so unique properties (message ids, timestamps) pay only a
slice and a failed lookup: entries are added while at least one lookup in
``_RATIO`` hits, plus one probe every ``_PROBE`` misses so a stream that
turns repetitive is noticed. The memo belongs to one ``FrameReader``, i.e.
one connection; it is bounded and cleared when full.
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
_RATIO = 8
_PROBE = 64
# Counters are halved past this, so the hit ratio follows recent traffic.
_WINDOW = 1024
_SCALARS = frozenset((str, bytes, int, bool, float, Decimal, datetime, type(None)))


class PropertiesMemo:
    """Decode ``BasicProperties`` from raw bytes, remembering repeated ones."""

    __slots__ = ("_entries", "_hits", "_misses")

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[dict[str, Any], bool]] = {}
        self._hits = 0
        self._misses = 0

    def decode(self, raw: bytes) -> spec.BasicProperties | None:
        """Properties encoded in exactly ``raw``, or None if they do not fill it.

        Malformed input raises as ``BasicProperties.decode`` does.
        """
        entry = self._entries.get(raw)
        props = _new(_Properties)
        if entry is not None:
            if self._hits < _WINDOW:
                self._hits += 1
            fields, has_headers = entry
            fields = fields.copy()
            if has_headers:
                fields["headers"] = fields["headers"].copy()
            props.__dict__.update(fields)
            return props
        if props._decode_at(raw, 0) != len(raw):
            return None
        self._misses = misses = self._misses + 1
        if self._hits * _RATIO >= misses or not misses % _PROBE:
            self._remember(raw, props.__dict__)
        return props

    def _remember(self, raw: bytes, fields: dict[str, Any]) -> None:
        if self._misses >= _WINDOW:
            self._hits //= 2
            self._misses //= 2
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
