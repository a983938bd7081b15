"""The synchronous AMQP methods of the thread-safe Channel.

Each one sends its method from the I/O thread and blocks the caller until the
reply frame arrives (returned), the timeout passes (builtin TimeoutError), or
the channel or connection closes (its close reason is raised).  The mechanics
live in ``Channel._rpc``; this mixin only names the methods and their
arguments, in pika's order and with pika's defaults.
"""

from __future__ import annotations

from typing import Any

from pika import frame

DEFAULT_RPC_TIMEOUT = 10


class ChannelRpcs:
    """Blocking RPCs; every one returns the reply's method frame."""

    def _rpc(self, method: str, timeout: float | None, *args: Any) -> frame.Method[Any]:
        raise NotImplementedError

    # -- synchronous methods ------------------------------------------------------

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        global_qos: bool = False,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Set the prefetch window; returns the QosOk frame."""
        return self._rpc("basic_qos", timeout, prefetch_size, prefetch_count, global_qos)

    def basic_recover(
        self, requeue: bool = False, timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method[Any]:
        """Redeliver unacknowledged messages; returns the RecoverOk frame."""
        return self._rpc("basic_recover", timeout, requeue)

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: Any = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Declare an exchange; returns the DeclareOk frame."""
        return self._rpc(
            "exchange_declare",
            timeout,
            exchange,
            exchange_type,
            passive,
            durable,
            auto_delete,
            internal,
            arguments,
        )

    def exchange_delete(
        self,
        exchange: str | None = None,
        if_unused: bool = False,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Delete an exchange; returns the DeleteOk frame."""
        return self._rpc("exchange_delete", timeout, exchange, if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Bind two exchanges; returns the BindOk frame."""
        return self._rpc("exchange_bind", timeout, destination, source, routing_key, arguments)

    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Remove an exchange-to-exchange binding; returns the UnbindOk frame."""
        return self._rpc(
            "exchange_unbind",
            timeout,
            destination,
            source,
            routing_key,
            arguments,
        )

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Declare a queue (``''`` for a broker-named one); returns the DeclareOk frame."""
        return self._rpc(
            "queue_declare",
            timeout,
            queue,
            passive,
            durable,
            exclusive,
            auto_delete,
            arguments,
        )

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Bind a queue to an exchange; returns the BindOk frame."""
        return self._rpc("queue_bind", timeout, queue, exchange, routing_key, arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Remove a queue binding; returns the UnbindOk frame."""
        return self._rpc("queue_unbind", timeout, queue, exchange, routing_key, arguments)

    def queue_purge(
        self, queue: str, timeout: float | None = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method[Any]:
        """Purge a queue; returns the PurgeOk frame (``.method.message_count``)."""
        return self._rpc("queue_purge", timeout, queue)

    def queue_delete(
        self,
        queue: str,
        if_unused: bool = False,
        if_empty: bool = False,
        timeout: float | None = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method[Any]:
        """Delete a queue; returns the DeleteOk frame."""
        return self._rpc("queue_delete", timeout, queue, if_unused, if_empty)

    def tx_select(self, timeout: float | None = DEFAULT_RPC_TIMEOUT) -> frame.Method[Any]:
        """Put the channel in transaction mode; returns the SelectOk frame."""
        return self._rpc("tx_select", timeout)

    def tx_commit(self, timeout: float | None = DEFAULT_RPC_TIMEOUT) -> frame.Method[Any]:
        """Commit the current transaction; returns the CommitOk frame."""
        return self._rpc("tx_commit", timeout)

    def tx_rollback(self, timeout: float | None = DEFAULT_RPC_TIMEOUT) -> frame.Method[Any]:
        """Abandon the current transaction; returns the RollbackOk frame."""
        return self._rpc("tx_rollback", timeout)
