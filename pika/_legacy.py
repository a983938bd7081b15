"""Argument shims that let pika 0.x call forms run next to the 1.x ones.

``basic_consume(on_message, queue='q', no_ack=True)`` (0.x) and
``basic_consume('q', on_message, auto_ack=True)`` (1.x) cannot share one
Python signature, so the consume methods take ``*args, **kwargs``, bind them
here against whichever form the call matches, and advertise the 1.x
signature through ``__signature__`` for introspection.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

_P = inspect.Parameter


def _signature(*names_and_defaults: tuple[str, Any]) -> inspect.Signature:
    params = [
        _P(name, _P.POSITIONAL_OR_KEYWORD, default=default) for name, default in names_and_defaults
    ]
    return inspect.Signature(params)


_REQUIRED = _P.empty

_MODERN = _signature(
    ("queue", _REQUIRED),
    ("on_message_callback", _REQUIRED),
    ("auto_ack", False),
    ("exclusive", False),
    ("consumer_tag", None),
    ("arguments", None),
    ("callback", None),
)
_LEGACY = _signature(
    ("consumer_callback", _REQUIRED),
    ("queue", ""),
    ("no_ack", False),
    ("exclusive", False),
    ("consumer_tag", None),
    ("arguments", None),
    ("callback", None),
)


class ConsumeArgs(NamedTuple):
    """basic_consume arguments after binding either call form."""

    queue: str
    on_message_callback: Callable[..., Any]
    auto_ack: bool
    exclusive: bool
    consumer_tag: str | None
    arguments: dict[str, Any] | None
    callback: Callable[..., Any] | None


def bind_consume(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConsumeArgs:
    """Bind basic_consume arguments given in the 1.x or the 0.x form."""
    kwargs = dict(kwargs)
    legacy = bool(args) and callable(args[0]) and not isinstance(args[0], str)
    legacy = legacy or ("consumer_callback" in kwargs and "on_message_callback" not in kwargs)
    if legacy:
        if "auto_ack" in kwargs:
            kwargs["no_ack"] = kwargs.pop("auto_ack")
        bound = _LEGACY.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        return ConsumeArgs(
            values["queue"],
            values["consumer_callback"],
            bool(values["no_ack"]),
            values["exclusive"],
            values["consumer_tag"],
            values["arguments"],
            values["callback"],
        )
    if "no_ack" in kwargs:
        if "auto_ack" in kwargs:
            raise TypeError("basic_consume() got both auto_ack and its legacy alias no_ack")
        kwargs["auto_ack"] = kwargs.pop("no_ack")
    bound = _MODERN.bind(*args, **kwargs)
    bound.apply_defaults()
    return ConsumeArgs(**bound.arguments)


def modern_signature(drop: tuple[str, ...] = (), self_param: bool = True) -> inspect.Signature:
    """The 1.x basic_consume signature to advertise (optionally without some names)."""
    params = [p for p in _MODERN.parameters.values() if p.name not in drop]
    if self_param:
        params.insert(0, _P("self", _P.POSITIONAL_OR_KEYWORD))
    return inspect.Signature(params)
