"""The BlockingChannel methods that are one synchronous RPC each.

A mixin of ``BlockingChannel``: every method hands the impl channel a
``Reply`` as its completion callback and waits for it (see ``_rpc``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pika import frame
from pika.adapters._blocking_support import Reply
from pika.exchange_type import ExchangeType

if TYPE_CHECKING:
    from pika.channel import Channel

MethodFrame = frame.Method[Any]


class RpcMethods:
    """Exchange, queue, qos, recover, flow and tx methods of BlockingChannel."""

    if TYPE_CHECKING:
        _impl: Channel

        def _check_open(self) -> None: ...

        def _wait(self, done: Callable[[], bool]) -> None: ...

    def _rpc(self, method: Callable[..., None], *args: Any) -> Any:
        """Call an impl RPC method with a Reply as ``callback``; return the reply."""
        self._check_open()
        reply = Reply()
        method(*args, callback=reply)
        self._wait(lambda: reply.done)
        return reply.value

    def _call(self, method: Callable[..., None], *args: Any) -> MethodFrame:
        """``_rpc`` for methods whose reply is a method frame."""
        reply: MethodFrame = self._rpc(method, *args)
        return reply

    def flow(self, active: bool) -> bool:
        """Ask the broker to pause or resume deliveries; returns the broker's answer."""
        return bool(self._rpc(self._impl.flow, active))

    def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False
    ) -> None:
        """Set the prefetch window and wait for QosOk."""
        self._rpc(self._impl.basic_qos, prefetch_size, prefetch_count, global_qos)

    def basic_recover(self, requeue: bool = False) -> None:
        """Ask the broker to redeliver unacknowledged messages; waits for RecoverOk."""
        self._rpc(self._impl.basic_recover, requeue)

    # -- exchanges, queues, transactions ---------------------------------

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: ExchangeType | str = ExchangeType.direct,
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Declare (or with ``passive`` check) an exchange; returns the DeclareOk frame."""
        return self._call(
            self._impl.exchange_declare,
            exchange,
            exchange_type,
            passive,
            durable,
            auto_delete,
            internal,
            arguments,
        )

    def exchange_delete(self, exchange: str | None = None, if_unused: bool = False) -> MethodFrame:
        """Delete an exchange; returns the DeleteOk frame."""
        return self._call(self._impl.exchange_delete, exchange, if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Bind exchange ``destination`` to exchange ``source``; returns BindOk."""
        return self._call(self._impl.exchange_bind, destination, source, routing_key, arguments)

    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Remove an exchange-to-exchange binding; returns UnbindOk."""
        return self._call(self._impl.exchange_unbind, destination, source, routing_key, arguments)

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Declare a queue (``''`` for a server-named one); ``result.method.queue`` is its name."""
        return self._call(
            self._impl.queue_declare, queue, passive, durable, exclusive, auto_delete, arguments
        )

    def queue_delete(
        self, queue: str, if_unused: bool = False, if_empty: bool = False
    ) -> MethodFrame:
        """Delete a queue; returns DeleteOk (``.method.message_count``)."""
        return self._call(self._impl.queue_delete, queue, if_unused, if_empty)

    def queue_purge(self, queue: str) -> MethodFrame:
        """Remove every ready message from a queue; returns PurgeOk."""
        return self._call(self._impl.queue_purge, queue)

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Bind a queue to an exchange (routing key defaults to the queue name)."""
        return self._call(self._impl.queue_bind, queue, exchange, routing_key, arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> MethodFrame:
        """Remove a queue binding (routing key defaults to the queue name)."""
        return self._call(self._impl.queue_unbind, queue, exchange, routing_key, arguments)

    def tx_select(self) -> MethodFrame:
        """Put the channel in transaction mode; returns SelectOk."""
        return self._call(self._impl.tx_select)

    def tx_commit(self) -> MethodFrame:
        """Commit the current transaction; returns CommitOk."""
        return self._call(self._impl.tx_commit)

    def tx_rollback(self) -> MethodFrame:
        """Abandon the current transaction; returns RollbackOk."""
        return self._call(self._impl.tx_rollback)
