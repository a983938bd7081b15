"""SSLOptions (API.md §3.4)."""

from __future__ import annotations

import copy
import ssl
from typing import Any

import pytest

from pika._params import SSLOptions


def test_fields_and_defaults() -> None:
    context = ssl.create_default_context()
    options = SSLOptions(context)
    assert options.context is context
    assert options.server_hostname is None
    assert SSLOptions(context, "sni.example").server_hostname == "sni.example"
    assert SSLOptions(context=context, server_hostname="x").server_hostname == "x"


@pytest.mark.parametrize("context", [None, {}, "ctx", object()])
def test_context_must_be_an_ssl_context(context: Any) -> None:
    with pytest.raises(TypeError, match="SSLContext"):
        SSLOptions(context)


def test_slots() -> None:
    assert SSLOptions.__slots__ == ("context", "server_hostname")
    options = SSLOptions(ssl.create_default_context())
    with pytest.raises(AttributeError):
        options.cafile = "x"  # type: ignore[attr-defined]


def test_copies_share_the_context() -> None:
    options = SSLOptions(ssl.create_default_context(), "h")
    for clone in (copy.copy(options), copy.deepcopy(options)):
        assert clone is not options
        assert type(clone) is SSLOptions
        assert clone.context is options.context
        assert clone.server_hostname == "h"


def test_repr_and_truthiness() -> None:
    options = SSLOptions(ssl.create_default_context(), "h")
    assert repr(options) == "<SSLOptions server_hostname='h'>"
    assert bool(options) is True
