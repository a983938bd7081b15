"""``CallbackManager``: callbacks registered under a (prefix, key) pair.

Prefixes are usually channel numbers and keys AMQP method classes or event
names; both are normalised to strings by :func:`name_or_value`, so ``1`` and
``'1'`` (or ``spec.Basic.Ack`` and ``'Basic.Ack'``) name the same slot. The
connection engine does not route replies through this registry; it exists for
user code and for ``connection.callbacks``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pika import amqp_object, frame

__all__ = ["CallbackManager", "check_for_prefix_and_key", "name_or_value", "sanitize_prefix"]

LOGGER = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])

# Positions of ``prefix`` and ``key`` in a decorated method's arguments (0 is self).
_PREFIX_POSITION = 1
_KEY_POSITION = 2


def name_or_value(value: object) -> str:
    """Return the registry name of ``value``: an AMQP class or instance gives
    its ``NAME``, a method frame the ``NAME`` of its method, anything else ``str()``.
    """
    if isinstance(value, type) and issubclass(value, amqp_object.AMQPObject):
        return value.NAME
    # Checked before AMQPObject: a method frame is named after the method it carries.
    if isinstance(value, frame.Method):
        return cast(str, value.method.NAME)
    if isinstance(value, amqp_object.AMQPObject):
        return value.NAME
    return str(value)


def _normalised(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Return copies of ``args``/``kwargs`` with prefix and key passed through name_or_value."""
    new_args, new_kwargs = list(args), dict(kwargs)
    for name, position in (("prefix", _PREFIX_POSITION), ("key", _KEY_POSITION)):
        if name in new_kwargs:
            new_kwargs[name] = name_or_value(new_kwargs[name])
        elif len(new_args) > position:
            new_args[position] = name_or_value(new_args[position])
    return new_args, new_kwargs


def sanitize_prefix(function: _F) -> _F:
    """Decorate a method so that its ``prefix`` and ``key`` arguments are
    normalised with :func:`name_or_value`.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        new_args, new_kwargs = _normalised(args, kwargs)
        return function(*new_args, **new_kwargs)

    return cast(_F, wrapper)


def check_for_prefix_and_key(function: _F) -> _F:
    """Decorate a CallbackManager method so that it returns False, without
    running, when nothing is registered under its prefix and key.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        new_args, new_kwargs = _normalised(args, kwargs)
        prefix = new_kwargs.get("prefix", _argument(new_args, _PREFIX_POSITION))
        key = new_kwargs.get("key", _argument(new_args, _KEY_POSITION))
        stack: dict[str, dict[str, Any]] = new_args[0]._stack
        if prefix not in stack or key not in stack[prefix]:
            return False
        return function(*args, **kwargs)

    return cast(_F, wrapper)


def _argument(args: Sequence[Any], position: int) -> Any:
    return args[position] if len(args) > position else None


class CallbackManager:
    """Callbacks stored by prefix and key, run in registration order by ``process``.

    A one-shot callback is removed once it has been used as many times as it
    was added; a persistent one stays until removed.
    """

    CALLS = "calls"
    ARGUMENTS = "arguments"
    DUPLICATE_WARNING = 'Duplicate callback found for "%s:%s"'
    CALLBACK = "callback"
    ONE_SHOT = "one_shot"
    ONLY_CALLER = "only"

    def __init__(self) -> None:
        # prefix -> key -> list of entries (dicts keyed by the constants above)
        self._stack: dict[str, dict[str, list[dict[str, Any]]]] = {}

    @sanitize_prefix
    def add(
        self,
        prefix: Any,
        key: Any,
        callback: Callable[..., Any],
        one_shot: bool = True,
        only_caller: object | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Register ``callback`` under ``prefix``/``key``; return the normalised pair.

        Adding the same callback again (same ``arguments`` and ``only_caller``)
        makes a one-shot entry fire once more, and is ignored with a warning
        for a persistent entry.
        """
        entries = self._stack.setdefault(prefix, {}).setdefault(key, [])
        for entry in entries:
            if (
                entry[self.CALLBACK] == callback
                and entry[self.ARGUMENTS] == arguments
                and entry[self.ONLY_CALLER] == only_caller
            ):
                if entry[self.ONE_SHOT]:
                    entry[self.CALLS] += 1
                    LOGGER.debug("Incremented callback reference counter: %r", entry)
                else:
                    LOGGER.warning(self.DUPLICATE_WARNING, prefix, key)
                return prefix, key
        entry = {
            self.CALLBACK: callback,
            self.ONE_SHOT: one_shot,
            self.ONLY_CALLER: only_caller,
            self.ARGUMENTS: arguments,
        }
        if one_shot:
            entry[self.CALLS] = 1
        entries.append(entry)
        LOGGER.debug("Added: %r", entry)
        return prefix, key

    def clear(self) -> None:
        """Forget every callback."""
        self._stack = {}

    @sanitize_prefix
    def cleanup(self, prefix: Any) -> bool:
        """Forget every callback under ``prefix``; False if there were none."""
        LOGGER.debug("Clearing out %r from the stack", prefix)
        if prefix not in self._stack:
            return False
        del self._stack[prefix]
        return True

    @sanitize_prefix
    def pending(self, prefix: Any, key: Any) -> int | None:
        """Return how many entries are registered under ``prefix``/``key``, or
        None if there are none."""
        entries = self._stack.get(prefix, {}).get(key)
        return None if entries is None else len(entries)

    @sanitize_prefix
    def keys(self, prefix: Any) -> list[str]:
        """Return the keys that have callbacks under ``prefix``."""
        return list(self._stack.get(prefix, {}))

    @sanitize_prefix
    @check_for_prefix_and_key
    def process(self, prefix: Any, key: Any, caller: object, *args: Any, **keywords: Any) -> bool:
        """Call, with ``*args``/``**keywords``, every callback under
        ``prefix``/``key`` whose argument filter and caller match.

        Returns False if nothing is registered there, else True. One-shot
        entries are used up before any callback runs; an exception from a
        callback is logged and re-raised, skipping the remaining callbacks.
        """
        callbacks = []
        for entry in list(self._stack[prefix][key]):
            if self._should_process(entry, caller, args):
                callbacks.append(entry[self.CALLBACK])
                if entry[self.ONE_SHOT]:
                    self._use_one_shot(prefix, key, entry)
        for callback in callbacks:
            LOGGER.debug('Calling %s for "%s:%s"', callback, prefix, key)
            try:
                callback(*args, **keywords)
            except Exception:
                LOGGER.exception('Calling %s for "%s:%s" failed', callback, prefix, key)
                raise
        return True

    @sanitize_prefix
    @check_for_prefix_and_key
    def remove(
        self,
        prefix: Any,
        key: Any,
        callback_value: Callable[..., Any] | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> bool:
        """Remove ``callback_value`` from ``prefix``/``key`` (every entry there
        when it is None). An entry registered with an argument filter is
        removed only if ``arguments`` satisfies that filter.

        Returns True if anything was registered under ``prefix``/``key``.
        """
        entries = self._stack[prefix][key]
        if callback_value is None:
            entries.clear()
        else:
            entries[:] = [
                entry
                for entry in entries
                if not (
                    entry[self.CALLBACK] == callback_value
                    and self._arguments_match(entry, (arguments,))
                )
            ]
        self._cleanup_callback_dict(prefix, key)
        return True

    @sanitize_prefix
    @check_for_prefix_and_key
    def remove_matching(
        self, prefix: Any, key: Any, predicate: Callable[[Callable[..., Any]], bool]
    ) -> bool:
        """Remove the callbacks under ``prefix``/``key`` for which
        ``predicate(callback)`` is true. Returns True if anything was registered there.
        """
        entries = self._stack[prefix][key]
        entries[:] = [entry for entry in entries if not predicate(entry[self.CALLBACK])]
        self._cleanup_callback_dict(prefix, key)
        return True

    @sanitize_prefix
    @check_for_prefix_and_key
    def remove_all(self, prefix: Any, key: Any) -> bool:
        """Remove every callback under ``prefix``/``key``.

        Returns False if nothing was registered there, else True.
        """
        del self._stack[prefix][key]
        self._cleanup_callback_dict(prefix, key)
        return True

    def _should_process(
        self, entry: Mapping[str, Any], caller: object, args: Sequence[Any]
    ) -> bool:
        if not self._arguments_match(entry, args):
            return False
        only_caller = entry[self.ONLY_CALLER]
        return only_caller is None or only_caller == caller

    def _arguments_match(self, entry: Mapping[str, Any], args: Sequence[Any]) -> bool:
        """Check an entry's argument filter against the first positional
        argument: a dict by its items, anything else (or its ``.method``) by
        its attributes.
        """
        expected: Mapping[str, Any] | None = entry[self.ARGUMENTS]
        if expected is None:
            return True
        if not args:
            return False
        value = args[0]
        if isinstance(value, dict):
            return all(value.get(name) == wanted for name, wanted in expected.items())
        target = getattr(value, "method", value)
        missing = object()
        return all(getattr(target, name, missing) == wanted for name, wanted in expected.items())

    def _use_one_shot(self, prefix: str, key: str, entry: dict[str, Any]) -> None:
        entry[self.CALLS] -= 1
        if entry[self.CALLS] <= 0:
            entries = self._stack[prefix][key]
            # By identity: distinct entries may compare equal as dicts.
            entries[:] = [other for other in entries if other is not entry]
            self._cleanup_callback_dict(prefix, key)

    def _cleanup_callback_dict(self, prefix: str, key: str | None = None) -> None:
        """Drop an emptied key, then an emptied prefix."""
        keys = self._stack.get(prefix)
        if keys is None:
            return
        if key is not None and key in keys and not keys[key]:
            del keys[key]
        if not keys:
            del self._stack[prefix]
