"""A small fault-injecting TCP proxy for tests: client <-> proxy <-> broker on 127.0.0.1.

How it works: one daemon thread runs a ``selectors`` loop over the listening
socket and, per accepted client, a pipe made of the client socket, a socket to
the target and a buffer each way (bounded: a full buffer stops reading from the
other side). Test code never touches those sockets: every control call is
queued to the loop thread and waits, with a timeout, until the loop has run it.
So when ``stall()`` or ``cut()`` returns, the fault is in effect. The loop ends
by itself after ``lifetime`` seconds, closing everything.

Faults: ``stall()``/``resume()`` stop and restart forwarding both ways without
closing; ``trickle()`` delivers bytes to the client one ``send()`` at a time;
``cut()`` closes every connection now (FIN, or RST with ``reset=True``);
``cut_after(n)`` lets at most n more bytes through from the target, then cuts;
``inject(data)`` sends bytes to the client (even while stalled);
``refuse()``/``listen()`` close and reopen the listening socket.

Usage::

    with FaultProxy("127.0.0.1", broker_port) as proxy:
        connect_to("127.0.0.1", proxy.port)
        proxy.wait_for_connections(1)
        proxy.stall()
"""

from __future__ import annotations

import functools
import logging
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

LOG = logging.getLogger(__name__)

_T = TypeVar("_T")
_CHUNK = 65536
_MAX_BUFFER = 4 * 1024 * 1024
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class ProxyError(RuntimeError):
    """The proxy is not running, did not answer in time, or its loop crashed."""


class _Pipe:
    """One proxied connection: both sockets and the bytes in flight each way."""

    def __init__(self, client: socket.socket, upstream: socket.socket, budget: int | None) -> None:
        self.client = client
        self.upstream = upstream
        self.to_client = bytearray()
        self.to_server = bytearray()
        self.urgent = bytearray()  # injected bytes, written even while stalled
        self.budget = budget  # bytes still allowed from the target; None = unlimited
        self.client_eof = False
        self.upstream_eof = False
        self.broken = False
        self.next_write = 0.0
        self.on_client: Callable[[int], None] = lambda mask: None
        self.on_upstream: Callable[[int], None] = lambda mask: None

    def finished(self) -> bool:
        """True once nothing more can usefully happen on this pipe."""
        client_drained = not self.to_client and not self.urgent
        if self.broken or (self.client_eof and not self.to_server):
            return True
        return client_drained and (self.upstream_eof or self.budget == 0)


class FaultProxy:
    """Forward TCP connections to a target and inject faults on command."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        lifetime: float = 300.0,
        byte_delay: float = 0.0005,
        command_timeout: float = 10.0,
    ) -> None:
        self.target = (target_host, target_port)
        self.host = listen_host
        self.port = 0
        self.lifetime = lifetime
        self.byte_delay = byte_delay
        self.command_timeout = command_timeout
        self.accepted = 0
        self.active = 0
        self.bytes_to_client = 0
        self.bytes_to_server = 0
        self.client_writes = 0
        self._sel = selectors.DefaultSelector()
        self._interest: dict[socket.socket, int] = {}
        self._listener: socket.socket | None = None
        self._pipes: list[_Pipe] = []
        self._stalled = False
        self._trickle = False
        self._budget: int | None = None
        self._commands: deque[Callable[[], None]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._cond = threading.Condition()
        self._stopping = False
        self._stopped = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) clients should connect to."""
        return (self.host, self.port)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Open the listening socket and start the loop thread."""
        if self._thread is not None:
            raise ProxyError("proxy already started")
        self._open_listener()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, _READ, self._drain_wakeups)
        self._thread = threading.Thread(
            target=self._run, name=f"faultproxy-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the loop, close every socket; re-raise a crash of the loop."""
        self._stopping = True
        self._wake()
        if self._thread is None:
            self._sel.close()
            self._wake_r.close()
        else:
            self._thread.join(self.command_timeout)
            if self._thread.is_alive():
                raise ProxyError("proxy loop did not stop")
        self._wake_w.close()
        if self._error is not None:
            raise ProxyError(f"proxy loop crashed: {self._error!r}") from self._error

    # -- faults (each returns once the loop has applied it) ----------------------------

    def stall(self) -> None:
        """Stop forwarding in both directions; connections stay open."""
        self._call(functools.partial(setattr, self, "_stalled", True))

    def resume(self) -> None:
        """Forward again after ``stall()``."""
        self._call(functools.partial(setattr, self, "_stalled", False))

    def trickle(self, enabled: bool = True) -> None:
        """Deliver bytes to clients one at a time (``byte_delay`` apart)."""
        self._call(functools.partial(setattr, self, "_trickle", enabled))

    def cut(self, *, reset: bool = False) -> int:
        """Close every current connection now (RST if *reset*); return how many."""
        return self._call(functools.partial(self._cut_all, reset))

    def cut_after(self, nbytes: int) -> None:
        """Let at most *nbytes* more bytes through from the target per connection, then cut.

        New connections count from their start.
        """
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, not {nbytes}")
        self._call(functools.partial(self._set_budget, nbytes))

    def inject(self, data: bytes) -> int:
        """Send *data* to every connected client; return how many got it."""
        return self._call(functools.partial(self._inject, bytes(data)))

    def refuse(self) -> None:
        """Close the listening socket: new connects get ECONNREFUSED."""
        self._call(self._close_listener)

    def listen(self) -> None:
        """Reopen the listening socket on the same port after ``refuse()``."""
        self._call(self._open_listener)

    # -- observation ---------------------------------------------------------------------

    def wait_for_connections(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until *count* clients have been accepted in total."""
        self._wait(lambda: self.accepted >= count, timeout, f"{count} connection(s)")

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no proxied connection is open."""
        self._wait(lambda: self.active == 0, timeout, "all connections to close")

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise ProxyError(f"timed out after {timeout:g} s waiting for {what}")

    # -- command plumbing ------------------------------------------------------------------

    def _call(self, fn: Callable[[], _T]) -> _T:
        thread = self._thread
        if thread is None or not thread.is_alive():
            raise ProxyError("proxy is not running")
        done = threading.Event()
        results: list[_T] = []
        failures: list[BaseException] = []

        def run() -> None:
            try:
                if self._stopped:
                    raise ProxyError("proxy is not running (stopped)")
                results.append(fn())
            except BaseException as exc:  # handed over to the calling thread
                failures.append(exc)
            finally:
                done.set()

        self._commands.append(run)
        self._wake()
        deadline = time.monotonic() + self.command_timeout
        while not done.wait(0.05):
            if not thread.is_alive():
                raise ProxyError("proxy is not running (stopped)")
            if time.monotonic() > deadline:
                raise ProxyError(f"proxy loop did not answer within {self.command_timeout:g} s")
        if failures:
            raise failures[0]
        return results[0]

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # closed or full: the loop is stopping or already awake

    def _drain_wakeups(self, mask: int) -> None:
        try:
            self._wake_r.recv(4096)
        except BlockingIOError:
            pass

    def _run_commands(self) -> None:
        while self._commands:
            self._commands.popleft()()

    # -- loop (runs on the proxy thread only) --------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.lifetime
        try:
            while not self._stopping:
                now = time.monotonic()
                if now >= deadline:
                    LOG.info("fault proxy on port %d: lifetime over, stopping", self.port)
                    break
                self._update_interest(now)
                timeout = min(deadline - now, self._trickle_wait(now))
                for key, mask in self._sel.select(timeout):
                    key.data(mask)
                self._run_commands()
                self._reap()
        except BaseException as exc:
            LOG.exception("fault proxy loop crashed")
            self._error = exc
        finally:
            self._teardown()

    def _teardown(self) -> None:
        self._stopped = True
        self._cut_all(False)
        self._close_listener()
        self._run_commands()  # release callers waiting on queued commands
        self._sel.close()
        self._wake_r.close()

    def _update_interest(self, now: float) -> None:
        for pipe in self._pipes:
            self._want(pipe.client, self._client_events(pipe, now), pipe.on_client)
            self._want(pipe.upstream, self._upstream_events(pipe), pipe.on_upstream)

    def _client_events(self, pipe: _Pipe, now: float) -> int:
        events = 0
        if not self._stalled and not pipe.client_eof and len(pipe.to_server) < _MAX_BUFFER:
            events |= _READ
        if self._has_output(pipe) and (not self._trickle or now >= pipe.next_write):
            events |= _WRITE
        return events

    def _upstream_events(self, pipe: _Pipe) -> int:
        events = 0
        readable = not pipe.upstream_eof and pipe.budget != 0
        if not self._stalled and readable and len(pipe.to_client) < _MAX_BUFFER:
            events |= _READ
        if pipe.to_server and not self._stalled:
            events |= _WRITE
        return events

    def _has_output(self, pipe: _Pipe) -> bool:
        return bool(pipe.urgent) or (bool(pipe.to_client) and not self._stalled)

    def _trickle_wait(self, now: float) -> float:
        if not self._trickle:
            return 3600.0
        waits = [p.next_write - now for p in self._pipes if self._has_output(p)]
        return max(0.0, min(waits, default=3600.0))

    def _want(self, sock: socket.socket, events: int, handler: Callable[[int], None]) -> None:
        current = self._interest.get(sock, 0)
        if events == current:
            return
        if events == 0:
            self._sel.unregister(sock)
            del self._interest[sock]
            return
        if current == 0:
            self._sel.register(sock, events, handler)
        else:
            self._sel.modify(sock, events, handler)
        self._interest[sock] = events

    def _forget(self, sock: socket.socket) -> None:
        if self._interest.pop(sock, 0):
            self._sel.unregister(sock)

    # -- accepting ---------------------------------------------------------------------------

    def _open_listener(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(16)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._want(listener, _READ, self._accept)

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._forget(self._listener)
            self._listener.close()
            self._listener = None

    def _accept(self, mask: int) -> None:
        if self._listener is None:
            return
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        with self._cond:
            self.accepted += 1
            self._cond.notify_all()
        try:
            upstream = socket.create_connection(self.target, timeout=5.0)
        except OSError as exc:
            LOG.info("fault proxy: target %s:%d unreachable: %s", *self.target, exc)
            client.close()
            return
        self._add_pipe(client, upstream)

    def _add_pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pipe = _Pipe(client, upstream, self._budget)
        pipe.on_client = functools.partial(self._on_client, pipe)
        pipe.on_upstream = functools.partial(self._on_upstream, pipe)
        self._pipes.append(pipe)
        with self._cond:
            self.active += 1
            self._cond.notify_all()

    # -- forwarding ----------------------------------------------------------------------------

    def _on_client(self, pipe: _Pipe, mask: int) -> None:
        try:
            if mask & _READ:
                data = pipe.client.recv(_CHUNK)
                pipe.to_server += data
                pipe.client_eof = not data
            if mask & _WRITE:
                self._write_client(pipe)
        except OSError:
            pipe.broken = True

    def _on_upstream(self, pipe: _Pipe, mask: int) -> None:
        try:
            if mask & _READ:
                self._read_upstream(pipe)
            if mask & _WRITE:
                sent = pipe.upstream.send(pipe.to_server)
                del pipe.to_server[:sent]
                self.bytes_to_server += sent
        except OSError:
            pipe.broken = True

    def _read_upstream(self, pipe: _Pipe) -> None:
        data = pipe.upstream.recv(_CHUNK)
        if not data:
            pipe.upstream_eof = True
            return
        if pipe.budget is not None:
            data = data[: pipe.budget]
            pipe.budget -= len(data)
        pipe.to_client += data

    def _write_client(self, pipe: _Pipe) -> None:
        buf = pipe.urgent if pipe.urgent else pipe.to_client
        size = 1 if self._trickle else len(buf)
        sent = pipe.client.send(buf[:size])
        del buf[:sent]
        self.client_writes += 1
        self.bytes_to_client += sent
        if self._trickle:
            pipe.next_write = time.monotonic() + self.byte_delay

    def _reap(self) -> None:
        for pipe in [p for p in self._pipes if p.finished()]:
            self._close_pipe(pipe, reset=False)

    # -- fault implementations ------------------------------------------------------------------

    def _close_pipe(self, pipe: _Pipe, *, reset: bool) -> None:
        for sock in (pipe.client, pipe.upstream):
            self._forget(sock)
            if reset:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass  # already dead; close() below is all that is left
            sock.close()
        self._pipes.remove(pipe)
        with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def _cut_all(self, reset: bool) -> int:
        pipes = list(self._pipes)
        for pipe in pipes:
            self._close_pipe(pipe, reset=reset)
        return len(pipes)

    def _set_budget(self, nbytes: int) -> None:
        self._budget = nbytes
        for pipe in self._pipes:
            pipe.budget = nbytes

    def _inject(self, data: bytes) -> int:
        for pipe in self._pipes:
            if self._stalled:
                pipe.urgent += data
            else:
                pipe.to_client += data
        return len(self._pipes)
