"""``TornadoConnection``: the callback-style connection on a tornado IOLoop.

Tornado's IOLoop already has the selector-loop shape (``add_handler``,
``call_later``, ``add_callback``...), so it is wrapped as is by
``SelectorIOServicesAdapter``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

try:
    from tornado import ioloop as _tornado_ioloop
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "TornadoConnection needs tornado, which is not installed: pip install 'pika[tornado]'"
    ) from _exc

from pika import connection
from pika.adapters.base_connection import (
    BaseConnection,
    check_parameters,
    resolve_loop_alias,
)
from pika.adapters.utils.nbio_interface import AbstractIOServices
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

__all__ = ["TornadoConnection"]

# Tornado's IOLoop has exactly the selector-loop shape.
AbstractSelectorIOLoop.register(_tornado_ioloop.IOLoop)

LOGGER = logging.getLogger(__name__)


class TornadoConnection(BaseConnection):
    """Asynchronous connection on tornado's IOLoop (the current one by default).

    ``ioloop=`` is an alias of ``custom_ioloop``; ``on_connected_callback=`` (pika 0.9)
    an alias of ``on_open_callback``; ``stop_ioloop_on_close`` (pika 0.x) stops the
    loop once the connection is closed or fails to open.
    """

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        on_open_callback: Callable[..., Any] | None = None,
        on_open_error_callback: Callable[..., Any] | None = None,
        on_close_callback: Callable[..., Any] | None = None,
        custom_ioloop: Any = None,
        internal_connection_workflow: bool = True,
        *,
        ioloop: Any = None,
        stop_ioloop_on_close: bool = False,
        on_connected_callback: Callable[..., Any] | None = None,
    ) -> None:
        if on_connected_callback is not None:
            if on_open_callback is not None:
                raise TypeError("Pass either on_open_callback or on_connected_callback, not both")
            on_open_callback = on_connected_callback
        check_parameters(parameters)  # before building a loop that would leak
        loop = resolve_loop_alias(custom_ioloop, ioloop, "ioloop")
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            self._io_services_for(loop),
            internal_connection_workflow,
            stop_ioloop_on_close=stop_ioloop_on_close,
        )

    @staticmethod
    def _io_services_for(loop: Any) -> AbstractIOServices:
        if isinstance(loop, AbstractIOServices):
            return loop
        native: Any = loop if loop is not None else _tornado_ioloop.IOLoop.current()
        return SelectorIOServicesAdapter(native)
