"""AMQPConnector and AMQPConnectionWorkflow against local servers.

The connection object is a small fake speaking a toy handshake ("HELLO" from the
client; the server answers "OPEN" or "DENY", or stays silent), so these tests
exercise only the I/O and workflow logic, not AMQP.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pika import exceptions
from pika.adapters.select_connection import IOLoop
from pika.adapters.utils import connection_workflow as cw
from pika.adapters.utils.nbio_interface import AbstractStreamProtocol, AbstractStreamTransport
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from pika.connection import ConnectionParameters, SSLOptions
from tests.unit.adapters.adapter_support import WAIT, local_server, refused_port, run_until


class FakeConnection(AbstractStreamProtocol):
    """Just enough of a connection for the connector: callbacks, close, stream events."""

    def __init__(self, params: ConnectionParameters) -> None:
        self.params = params
        self.transport: AbstractStreamTransport | None = None
        self.open_callbacks: list[Callable[..., Any]] = []
        self.error_callbacks: list[Callable[..., Any]] = []
        self.removed_default: list[bool] = []
        self.closed_with: tuple[int, str] | None = None
        self.state = "init"

    @property
    def is_closing(self) -> bool:
        return self.state == "closing"

    @property
    def is_closed(self) -> bool:
        return self.state == "closed"

    is_recovering = False

    def _add_attempt_callbacks(
        self,
        on_open: Callable[..., Any],
        on_open_error: Callable[..., Any],
        keep_default_error: bool,
    ) -> None:
        self.open_callbacks.append(on_open)
        self.error_callbacks.append(on_open_error)
        self.removed_default.append(not keep_default_error)

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        self.closed_with = (reply_code, reply_text)
        self.state = "closing"
        assert self.transport is not None
        self.transport.abort()

    def connection_made(self, transport: AbstractStreamTransport) -> None:
        self.transport = transport
        transport.write(b"HELLO")

    def data_received(self, data: bytes) -> None:
        if b"OPEN" in data:
            self.state = "open"
            for callback in self.open_callbacks:
                callback(self)
        elif b"DENY" in data:
            self.state = "closing"
            assert self.transport is not None
            self.transport.abort()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, error: BaseException | None) -> None:
        was_closing_by_user = self.closed_with is not None
        self.state = "closed"
        if was_closing_by_user:
            failure: Exception = exceptions.ConnectionOpenAborted(f"closed {self.closed_with}")
        else:
            failure = exceptions.ProbableAuthenticationError("denied")
        for callback in self.error_callbacks:
            callback(self, failure)


def server_that(reply: bytes | None) -> Callable[[socket.socket], None]:
    """Read the client's hello, then answer ``reply`` (or stay silent until the peer goes)."""

    def handler(sock: socket.socket) -> None:
        sock.recv(100)
        if reply is not None:
            sock.sendall(reply)
        while sock.recv(100):
            pass

    return handler


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    ioloop = IOLoop()
    yield ioloop
    ioloop.close()


@pytest.fixture
def nbio(loop: IOLoop) -> SelectorIOServicesAdapter:
    return SelectorIOServicesAdapter(loop)


def run(loop: IOLoop) -> None:
    run_until(loop.start, loop.stop, loop.call_later)


def params(port: int, host: str = "127.0.0.1", **kwargs: Any) -> ConnectionParameters:
    return ConnectionParameters(host=host, port=port, **kwargs)


def addr(port: int) -> tuple[Any, ...]:
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))


class Outcome:
    """Collects on_done results and stops the loop on the first one."""

    def __init__(self, loop: IOLoop) -> None:
        self.loop = loop
        self.results: list[Any] = []

    def __call__(self, result: Any) -> None:
        self.results.append(result)
        self.loop.stop()

    @property
    def result(self) -> Any:
        assert len(self.results) == 1, self.results
        return self.results[0]


def cleanup(result: Any) -> None:
    if isinstance(result, FakeConnection) and result.transport is not None:
        result.transport.abort()


def connect(
    loop: IOLoop, nbio: SelectorIOServicesAdapter, address: tuple[Any, ...], conn_params: Any
) -> Any:
    outcome = Outcome(loop)
    connector = cw.AMQPConnector(FakeConnection, nbio)
    connector.start(address, conn_params, outcome)
    assert outcome.results == []
    run(loop)
    return outcome.result


# -- AMQPConnector ----------------------------------------------------------------------


def test_connector_success_sets_tcp_nodelay_and_removes_default_handler(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    with local_server(server_that(b"OPEN")) as server:
        conn = connect(loop, nbio, addr(server.port), params(server.port))
        assert isinstance(conn, FakeConnection) and conn.state == "open"
        sock = conn.transport._sock  # type: ignore[union-attr]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert conn.removed_default == [True]
        cleanup(conn)
        loop.call_later(0, loop.stop)
        run(loop)


def test_connector_applies_tcp_options(loop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    options = {"TCP_KEEPIDLE": 42}
    with local_server(server_that(b"OPEN")) as server:
        conn = connect(loop, nbio, addr(server.port), params(server.port, tcp_options=options))
        sock = conn.transport._sock
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 42
        cleanup(conn)
        loop.call_later(0, loop.stop)
        run(loop)


def test_connector_refused(loop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    port = refused_port()
    error = connect(loop, nbio, addr(port), params(port))
    assert isinstance(error, cw.AMQPConnectorSocketConnectError)
    assert isinstance(error.exception, ConnectionRefusedError)
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert "ConnectionRefusedError" in repr(error)


class _NeverConnects(SelectorIOServicesAdapter):
    """connect_socket that never completes (as if SYNs were dropped)."""

    class _Ref:
        def cancel(self) -> bool:
            return True

    def connect_socket(self, sock: Any, resolved_addr: Any, on_done: Any) -> Any:
        return self._Ref()


def test_connector_socket_timeout(loop: IOLoop) -> None:
    nbio = _NeverConnects(loop)
    error = connect(loop, nbio, addr(1), params(1, socket_timeout=0.05, stack_timeout=5))
    assert isinstance(error, cw.AMQPConnectorSocketConnectError)
    assert isinstance(error.exception, socket.timeout)


def test_connector_stack_timeout_in_tcp_phase(loop: IOLoop) -> None:
    nbio = _NeverConnects(loop)
    error = connect(loop, nbio, addr(1), params(1, socket_timeout=5, stack_timeout=0.05))
    assert isinstance(error, cw.AMQPConnectorSocketConnectError)
    assert isinstance(error.exception, cw.AMQPConnectorStackTimeout)


def test_connector_stack_timeout_in_tls_phase(
    loop: IOLoop, nbio: SelectorIOServicesAdapter, client_ssl_context: ssl.SSLContext
) -> None:
    def silent(sock: socket.socket) -> None:
        while sock.recv(100):  # swallows the ClientHello and never answers
            pass

    with local_server(silent) as server:
        ssl_params = params(
            server.port,
            host="localhost",
            stack_timeout=0.1,
            ssl_options=SSLOptions(client_ssl_context),
        )
        error = connect(loop, nbio, addr(server.port), ssl_params)
    assert isinstance(error, cw.AMQPConnectorTransportSetupError)
    assert isinstance(error.exception, cw.AMQPConnectorStackTimeout)


def test_connector_stack_timeout_in_amqp_phase_closes_with_320(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    created: list[FakeConnection] = []

    def factory(conn_params: Any) -> FakeConnection:
        created.append(FakeConnection(conn_params))
        return created[-1]

    outcome = Outcome(loop)
    with local_server(server_that(None)) as server:
        connector = cw.AMQPConnector(factory, nbio)
        connector.start(addr(server.port), params(server.port, stack_timeout=0.1), outcome)
        run(loop)
    error = outcome.result
    assert isinstance(error, cw.AMQPConnectorAMQPHandshakeError)
    assert isinstance(error.exception, cw.AMQPConnectorStackTimeout)
    closed = created[0].closed_with
    assert closed is not None and closed[0] == 320 and "Timeout while setting up AMQP" in closed[1]


def test_connector_amqp_failure(loop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    with local_server(server_that(b"DENY")) as server:
        error = connect(loop, nbio, addr(server.port), params(server.port))
    assert isinstance(error, cw.AMQPConnectorAMQPHandshakeError)
    assert isinstance(error.exception, exceptions.ProbableAuthenticationError)


def test_connector_tls_uses_params_host_for_sni_and_verification(
    loop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    with local_server(server_that(b"OPEN"), ssl_context=server_ssl_context) as server:
        ssl_params = params(
            server.port, host="localhost", ssl_options=SSLOptions(client_ssl_context)
        )
        conn = connect(loop, nbio, addr(server.port), ssl_params)
        assert isinstance(conn, FakeConnection) and conn.state == "open"
        cleanup(conn)
        loop.call_later(0, loop.stop)
        run(loop)
    assert server.server_names == ["localhost"]


def test_connector_tls_server_hostname_override_is_verified(
    loop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    with local_server(server_that(b"OPEN"), ssl_context=server_ssl_context) as server:
        options = SSLOptions(client_ssl_context, server_hostname="wrong.example")
        error = connect(
            loop,
            nbio,
            addr(server.port),
            params(server.port, host="localhost", ssl_options=options),
        )
    assert isinstance(error, cw.AMQPConnectorTransportSetupError)
    assert isinstance(error.exception, ssl.SSLCertVerificationError)


@pytest.mark.parametrize("reply", [None, b"OPEN-LATER"])
def test_connector_abort(
    loop: IOLoop, nbio: SelectorIOServicesAdapter, reply: bytes | None
) -> None:
    outcome = Outcome(loop)
    connector = cw.AMQPConnector(FakeConnection, nbio)
    with pytest.raises(cw.AMQPConnectorWrongState):
        connector.abort()
    with local_server(server_that(None)) as server:
        connector.start(addr(server.port), params(server.port), outcome)
        with pytest.raises(cw.AMQPConnectorWrongState):
            connector.start(addr(server.port), params(server.port), outcome)
        if reply is None:
            connector.abort()  # in the TCP phase
        else:
            # Abort once the AMQP phase has begun (after the stream linked up).
            loop.call_later(0.05, connector.abort)
        assert outcome.results == []
        run(loop)
    assert isinstance(outcome.result, cw.AMQPConnectorAborted)
    with pytest.raises(cw.AMQPConnectorWrongState):
        connector.abort()


# -- AMQPConnectionWorkflow -----------------------------------------------------------


def start_workflow(
    loop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    configs: list[Any],
    until_first: bool = False,
) -> tuple[cw.AMQPConnectionWorkflow, Outcome]:
    outcome = Outcome(loop)
    workflow = cw.AMQPConnectionWorkflow(_until_first_amqp_attempt=until_first)
    workflow.set_io_services(nbio)
    workflow.start(configs, lambda: cw.AMQPConnector(FakeConnection, nbio), loop, outcome)
    assert outcome.results == []
    return workflow, outcome


def test_workflow_start_validates(loop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    workflow = cw.AMQPConnectionWorkflow()
    workflow.set_io_services(nbio)
    with pytest.raises(TypeError):
        workflow.start(42, lambda: None, loop, print)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        workflow.start([], lambda: None, loop, print)  # type: ignore[arg-type, return-value]
    with pytest.raises(cw.AMQPConnectorWrongState):
        workflow.abort()
    port = refused_port()
    workflow.start([params(port)], lambda: cw.AMQPConnector(FakeConnection, nbio), loop, print)
    with pytest.raises(cw.AMQPConnectorWrongState):
        workflow.start([params(port)], lambda: cw.AMQPConnector(FakeConnection, nbio), loop, print)
    workflow.abort()
    loop.call_later(0.01, loop.stop)
    run(loop)


def test_workflow_tries_configs_in_order(loop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    with local_server(server_that(b"OPEN")) as server:
        bad, good = params(refused_port()), params(server.port)
        _, outcome = start_workflow(loop, nbio, [bad, good])
        run(loop)
        conn = outcome.result
        assert isinstance(conn, FakeConnection) and conn.params is good
        cleanup(conn)
        loop.call_later(0, loop.stop)
        run(loop)


def test_workflow_attempts_and_retry_delay_come_from_the_last_config(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    first = params(refused_port(), connection_attempts=5, retry_delay=100)
    last = params(refused_port(), connection_attempts=2, retry_delay=0.01)
    _, outcome = start_workflow(loop, nbio, [first, last])
    run(loop)
    failure = outcome.result
    assert type(failure) is cw.AMQPConnectionWorkflowFailed
    assert len(failure.exceptions) == 4  # 2 cycles x 2 configs
    assert all(isinstance(e, cw.AMQPConnectorSocketConnectError) for e in failure.exceptions)
    assert "4 exceptions" in repr(failure)


def test_workflow_tries_every_resolved_address(
    loop: IOLoop, nbio: SelectorIOServicesAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_server(server_that(b"OPEN")) as server:
        bad_port = refused_port()

        def two_addresses(host: Any, port: Any, *args: Any) -> Any:
            return [addr(bad_port), addr(server.port)]

        monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
        _, outcome = start_workflow(loop, nbio, [params(server.port, host="broker.test")])
        run(loop)
        cleanup(outcome.result)
        assert isinstance(outcome.result, FakeConnection)
        loop.call_later(0, loop.stop)
        run(loop)


def test_workflow_dns_failure_is_also_an_amqp_connection_error(
    loop: IOLoop, nbio: SelectorIOServicesAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_such_host(*args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    configs = [params(5672, host="nope.invalid"), params(5672, host="never-tried.invalid")]
    _, outcome = start_workflow(loop, nbio, configs)
    run(loop)
    failure = outcome.result
    assert isinstance(failure, cw.AMQPConnectionWorkflowFailed)
    assert isinstance(failure, exceptions.AMQPConnectionError)
    assert isinstance(failure, cw.AMQPConnectionWorkflowDNSFailed)
    # A DNS failure ends the cycle: the second config was not tried.
    assert len(failure.exceptions) == 1 and isinstance(failure.exceptions[0], socket.gaierror)
    assert (failure.host, failure.port) == ("nope.invalid", 5672)


def test_workflow_until_first_amqp_attempt_does_not_retry_amqp_failures(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    with local_server(server_that(b"DENY"), connections=3) as server:
        _, outcome = start_workflow(
            loop,
            nbio,
            [params(server.port, connection_attempts=3, retry_delay=0)],
            until_first=True,
        )
        run(loop)
    failure = outcome.result
    assert isinstance(failure, cw.AMQPConnectionWorkflowFailed)
    assert len(failure.exceptions) == 1
    assert isinstance(failure.exceptions[0], cw.AMQPConnectorAMQPHandshakeError)


def test_workflow_retries_amqp_failures_by_default(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    with local_server(server_that(b"DENY"), connections=2) as server:
        _, outcome = start_workflow(
            loop, nbio, [params(server.port, connection_attempts=2, retry_delay=0)]
        )
        run(loop)
    assert len(outcome.result.exceptions) == 2


def test_workflow_open_aborted_in_amqp_phase_reports_aborted(
    loop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    created: list[FakeConnection] = []

    def factory(conn_params: Any) -> FakeConnection:
        created.append(FakeConnection(conn_params))
        return created[-1]

    def close_when_linked() -> None:
        if created and created[0].transport is not None:
            created[0].close(200, "user close")
        else:
            loop.call_later(0.005, close_when_linked)

    outcome = Outcome(loop)
    workflow = cw.AMQPConnectionWorkflow(_until_first_amqp_attempt=True)
    workflow.set_io_services(nbio)
    with local_server(server_that(None)) as server:
        workflow.start(
            [params(server.port)], lambda: cw.AMQPConnector(factory, nbio), loop, outcome
        )
        loop.call_later(0, close_when_linked)
        run(loop)
    assert isinstance(outcome.result, cw.AMQPConnectionWorkflowAborted)


@pytest.mark.parametrize("when", ["before-first-cycle", "in-retry-pause", "in-connector"])
def test_workflow_abort(loop: IOLoop, nbio: SelectorIOServicesAdapter, when: str) -> None:
    with local_server(server_that(None)) as server:
        port = refused_port() if when == "in-retry-pause" else server.port
        workflow, outcome = start_workflow(
            loop, nbio, [params(port, connection_attempts=2, retry_delay=WAIT * 2)]
        )
        if when == "before-first-cycle":
            workflow.abort()
        else:
            loop.call_later(0.1, workflow.abort)
        run(loop)
    assert isinstance(outcome.result, cw.AMQPConnectionWorkflowAborted)
    with pytest.raises(cw.AMQPConnectorWrongState):
        workflow.abort()


def test_exception_classes_and_attributes() -> None:
    inner = OSError("boom")
    error = cw.AMQPConnectorSocketConnectError(inner, host="h", port=1)
    assert (error.exception, error.host, error.port) == (inner, "h", 1)
    assert not isinstance(error, exceptions.AMQPError)
    failed = cw.AMQPConnectionWorkflowFailed([inner, error])
    assert failed.exceptions == (inner, error)
    assert "last exception" in repr(failed) and "first exception" in repr(failed)
    for cls in (
        cw.AMQPConnectorStackTimeout,
        cw.AMQPConnectorAborted,
        cw.AMQPConnectorWrongState,
        cw.AMQPConnectorPhaseErrorBase,
        cw.AMQPConnectionWorkflowAborted,
        cw.AMQPConnectionWorkflowWrongState,
        cw.AMQPConnectionWorkflowFailed,
    ):
        assert issubclass(cls, cw.AMQPConnectorException)
