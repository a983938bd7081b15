"""Compatibility names from pika 1.3.2 and 1.4.4's ``pika.compat`` (Python 3 only).

pika removed this module after 1.4.4; user code still imports it, so it stays
as a thin shim over the standard library and :mod:`pika._utils`.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping
from io import StringIO
from typing import TypeVar
from urllib.parse import parse_qs as url_parse_qs
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote
from urllib.parse import urlencode, urlparse

from pika import data as _data
from pika._utils import (
    HAVE_SIGNAL,
    LINUX_VERSION,
    ON_LINUX,
    ON_OSX,
    ON_WINDOWS,
    SOCKET_ERROR,
    SOL_TCP,
    as_bytes,
    get_linux_version,
    nonblocking_socketpair,
    time_now,
    to_digit,
)

__all__ = [
    "EINTR_IS_EXPOSED",
    "HAVE_SIGNAL",
    "LINUX_VERSION",
    "ON_LINUX",
    "ON_OSX",
    "ON_WINDOWS",
    "PY2",
    "PY3",
    "RE_NUM",
    "SOCKET_ERROR",
    "SOL_TCP",
    "AbstractBase",
    "StringIO",
    "as_bytes",
    "basestring",
    "byte",
    "canonical_str",
    "dict_iteritems",
    "dict_itervalues",
    "dictkeys",
    "dictvalues",
    "get_linux_version",
    "is_integer",
    "long",
    "nonblocking_socketpair",
    "str_or_bytes",
    "time_now",
    "to_digit",
    "unicode_type",
    "url_parse_qs",
    "url_quote",
    "url_unquote",
    "urlencode",
    "urlparse",
    "xrange",
]

_K = TypeVar("_K")
_V = TypeVar("_V")

PY2 = False
PY3 = True
# Python 3 exposes EINTR only through InterruptedError, which it retries itself.
EINTR_IS_EXPOSED = False

basestring = (str,)
str_or_bytes = (str, bytes)
unicode_type = str
long = _data.long
# Matches a run of decimal digits (e.g. each number in a kernel release string).
RE_NUM = re.compile(r"\d+")
xrange = range


class AbstractBase(metaclass=abc.ABCMeta):  # noqa: B024 - an empty base for ABCs
    """Base class for abstract classes (the old Python 2/3 portable spelling)."""

    __slots__ = ()


def byte(*args: int) -> bytes:
    """Return the bytes made of the given octet values: ``byte(65) == b'A'``."""
    return bytes(args)


def dictkeys(dct: Mapping[_K, _V]) -> list[_K]:
    """Return the keys of ``dct`` as a list."""
    return list(dct.keys())


def dictvalues(dct: Mapping[_K, _V]) -> list[_V]:
    """Return the values of ``dct`` as a list."""
    return list(dct.values())


def dict_iteritems(dct: Mapping[_K, _V]) -> Iterator[tuple[_K, _V]]:
    """Return an iterator over the items of ``dct``."""
    return iter(dct.items())


def dict_itervalues(dct: Mapping[_K, _V]) -> Iterator[_V]:
    """Return an iterator over the values of ``dct``."""
    return iter(dct.values())


def is_integer(value: object) -> bool:
    """Return True if ``value`` is an int."""
    return isinstance(value, int)


def canonical_str(value: object) -> str:
    """Return ``str(value)``."""
    return str(value)
