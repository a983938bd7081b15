"""Consuming with the Twisted adapter: ``ClosableDeferredQueue``, ``ReceivedMessage``
and the argument forms ``TwistedChannel.basic_consume`` accepts.

The public names are re-exported by ``pika.adapters.twisted_connection``
(import them from there).
"""

from __future__ import annotations

import collections
import inspect
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from twisted.internet import defer

from pika._legacy import bind_consume

__all__ = ["ClosableDeferredQueue", "ReceivedMessage"]

_PUBLIC_MODULE = "pika.adapters.twisted_connection"
LOGGER = logging.getLogger(_PUBLIC_MODULE)

_T = TypeVar("_T")

ReceivedMessage = collections.namedtuple(
    "ReceivedMessage", ["channel", "method", "properties", "body"], module=_PUBLIC_MODULE
)
ReceivedMessage.__doc__ = "A message from the broker: (TwistedChannel, method, properties, body)."


class ClosableDeferredQueue(defer.DeferredQueue[_T]):
    """A DeferredQueue that fails every pending and later get()/put() once closed."""

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        super().__init__(size, backlog)
        self.closed: BaseException | None = None

    def put(self, obj: _T) -> defer.Deferred[None] | None:  # type: ignore[override]
        """Add ``obj``; after close() return a failed Deferred instead."""
        if self.closed is not None:
            return defer.fail(self.closed)
        super().put(obj)
        return None

    def get(self) -> defer.Deferred[_T]:
        """A Deferred firing with the next item (failed once the queue is closed)."""
        if self.closed is not None:
            return defer.fail(self.closed)
        return super().get()

    def close(self, reason: BaseException) -> None:
        """Errback the waiting get()s with ``reason``, drop queued items, refuse more."""
        if self.closed is not None:
            LOGGER.warning("Queue %r closed twice: was %r, now %r", self, self.closed, reason)
            return
        self.closed = reason
        waiting, self.waiting = self.waiting, []
        for deferred in waiting:
            deferred.errback(reason)
        self.pending = []


ClosableDeferredQueue.__module__ = _PUBLIC_MODULE


Callback = Callable[..., Any]


class _ConsumeArgs(NamedTuple):
    queue: str
    auto_ack: bool
    exclusive: bool
    consumer_tag: str | None
    arguments: dict[str, Any] | None
    on_message_callback: Callback | None
    callback: Callback | None


_TWISTED_CONSUME = inspect.Signature(
    [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        for name, default in (
            ("queue", inspect.Parameter.empty),
            ("auto_ack", False),
            ("exclusive", False),
            ("consumer_tag", None),
            ("arguments", None),
        )
    ]
)


def bind_twisted_consume(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _ConsumeArgs:
    """Bind TwistedChannel.basic_consume arguments (1.x Twisted, 1.x Channel or 0.x form)."""
    with_message_callback = any(callable(a) and not isinstance(a, str) for a in args[:2]) or bool(
        {"on_message_callback", "consumer_callback"} & kwargs.keys()
    )
    if with_message_callback:
        bound = bind_consume(args, kwargs)
        return _ConsumeArgs(
            bound.queue,
            bound.auto_ack,
            bound.exclusive,
            bound.consumer_tag,
            bound.arguments,
            bound.on_message_callback,
            bound.callback,
        )
    kwargs = dict(kwargs)
    callback = kwargs.pop("callback", None)
    if "no_ack" in kwargs:
        if "auto_ack" in kwargs:
            raise TypeError("basic_consume() got both auto_ack and its legacy alias no_ack")
        kwargs["auto_ack"] = kwargs.pop("no_ack")
    values = _TWISTED_CONSUME.bind(*args, **kwargs)
    values.apply_defaults()
    return _ConsumeArgs(**values.arguments, on_message_callback=None, callback=callback)


def twisted_consume_signature() -> inspect.Signature:
    """The pika 1.x TwistedChannel.basic_consume signature, for introspection."""
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return _TWISTED_CONSUME.replace(parameters=[self_param, *_TWISTED_CONSUME.parameters.values()])
