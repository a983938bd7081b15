"""Session fixtures giving tests a real RabbitMQ broker.

``broker`` is a private node started from the installed rabbitmq-server on
first use (unit-only runs never start one), or the broker named by
``PIKA_TEST_BROKER_URL``. ``tls_broker`` is the TLS listener of the same
private node; ``cluster`` is three more private nodes, started only if a test
asks. Tests using any of them are marked ``integration`` (and ``cluster``)
automatically, so ``-m "not integration"`` selects the pure unit tests.

When no broker can be had, integration tests are skipped with the reason, but
under ``CI=true`` (without an explicit broker URL) they fail instead: CI must
never pass by skipping them.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # `tests.support` must import whatever the working directory
    sys.path.insert(0, str(_ROOT))

from tests.support.rabbitmq_node import (  # noqa: E402
    BIN_DIR,
    BrokerUnavailable,
    RabbitCluster,
    RabbitNode,
)

if TYPE_CHECKING:
    import pika
    import pika.connection

# driver (one per adapter) and proxy (a FaultProxy), used by several folders.
pytest_plugins = ["tests.support.fixtures"]

BROKER_URL_ENV = "PIKA_TEST_BROKER_URL"
_MARKS_BY_FIXTURE = {
    "broker": ("integration",),
    "tls_broker": ("integration",),
    "rabbit_node": ("integration",),
    "node_factory": ("integration",),
    "cluster": ("integration", "cluster"),
}
_T = TypeVar("_T")


def _external_url() -> str | None:
    return os.environ.get(BROKER_URL_ENV) or None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> NoReturn:
    """Fail under CI with no broker URL given; skip otherwise."""
    if _in_ci() and _external_url() is None:
        pytest.fail(f"CI=true and no broker available: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Broker:
    """Where the test broker listens, and how to reach it with pika."""

    host: str
    port: int
    url: str
    node: RabbitNode | None
    username: str = "guest"
    password: str = "guest"
    vhost: str = "/"
    scheme: str = "amqp"

    def __repr__(self) -> str:  # no password in test output
        return f"<Broker {self.scheme}://{self.host}:{self.port} node={self.node!r}>"

    def params(self, **overrides: Any) -> pika.connection.Parameters:
        """ConnectionParameters for this broker; keyword arguments override any field."""
        import pika

        if self.scheme == "amqps":
            return _with_overrides(pika.URLParameters(self.url), overrides)
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "virtual_host": self.vhost,
            "credentials": pika.PlainCredentials(self.username, self.password),
        }
        options.update(overrides)
        return pika.ConnectionParameters(**options)

    def require_node(self) -> RabbitNode:
        """The private node behind this broker, or skip: admin helpers need one."""
        if self.node is None:
            pytest.skip(f"needs a private node for rabbitmqctl; {BROKER_URL_ENV} is set")
        return self.node


@dataclass(frozen=True)
class TlsBroker:
    """The TLS listener of the private node, with the certificates generated for it."""

    host: str
    port: int
    server_hostname: str
    ca_cert: Path
    client_cert: Path
    client_key: Path
    client_cn: str
    node: RabbitNode

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """A client context trusting the test CA (and presenting the client cert)."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def params(
        self, *, client_cert: bool = False, external: bool = False, **overrides: Any
    ) -> pika.ConnectionParameters:
        """TLS ConnectionParameters; ``external=True`` logs in with the client cert's CN."""
        import pika
        from pika.credentials import ExternalCredentials

        context = self.ssl_context(client_cert=client_cert or external)
        credentials = ExternalCredentials() if external else pika.PlainCredentials("guest", "guest")
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "credentials": credentials,
            "ssl_options": pika.SSLOptions(context, server_hostname=self.server_hostname),
        }
        options.update(overrides)
        return pika.ConnectionParameters(**options)


def _with_overrides(params: _T, overrides: dict[str, Any]) -> _T:
    for name, value in overrides.items():
        setattr(params, name, value)
    return params


def _broker_from_url(url: str) -> Broker:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"amqp", "amqps"} or not parts.hostname:
        raise pytest.UsageError(f"{BROKER_URL_ENV} must be an amqp:// or amqps:// URL with a host")
    default_port = 5671 if parts.scheme == "amqps" else 5672
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return Broker(
        host=parts.hostname,
        port=parts.port or default_port,
        url=url,
        node=None,
        username=urllib.parse.unquote(parts.username or "guest"),
        password=urllib.parse.unquote(parts.password or "guest"),
        vhost=urllib.parse.unquote(path) or "/",
        scheme=parts.scheme,
    )


def _started(factory: Callable[[], _T], start: Callable[[_T], None]) -> _T:
    """Create and start a node (or cluster), turning failure into skip/fail."""
    item = factory()
    try:
        start(item)
    except BrokerUnavailable as exc:
        _unavailable(str(exc))
    return item


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[RabbitNode]:
    """The session's private node (plain and TLS listeners); started on first use."""
    node = _started(lambda: RabbitNode(tls=True), RabbitNode.start)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> Broker:
    """The broker for integration tests: ``PIKA_TEST_BROKER_URL`` or the private node."""
    url = _external_url()
    if url is None:
        node: RabbitNode = request.getfixturevalue("rabbit_node")
        return Broker(host=node.host, port=node.port, url=node.url, node=node)
    external = _broker_from_url(url)
    try:
        socket.create_connection((external.host, external.port), timeout=5).close()
    except OSError as exc:
        _unavailable(f"{BROKER_URL_ENV} broker {external.host}:{external.port} unreachable: {exc}")
    return external


@pytest.fixture(scope="session")
def tls_broker(rabbit_node: RabbitNode) -> TlsBroker:
    """The private node's TLS listener (server verification and EXTERNAL auth)."""
    tls = rabbit_node.tls
    if tls is None or rabbit_node.tls_port is None:
        _unavailable("the private node has no TLS listener")
    return TlsBroker(
        host=rabbit_node.host,
        port=rabbit_node.tls_port,
        server_hostname="localhost",
        ca_cert=tls.ca_cert,
        client_cert=tls.client_cert,
        client_key=tls.client_key,
        client_cn=tls.client_cn,
        node=rabbit_node,
    )


@pytest.fixture
def node_factory() -> Iterator[Callable[..., RabbitNode]]:
    """Start extra private nodes within one test (``RabbitNode`` options); all stop after it."""
    nodes: list[RabbitNode] = []

    def make(**options: Any) -> RabbitNode:
        node = _started(lambda: RabbitNode(**options), RabbitNode.start)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.stop()


@pytest.fixture(scope="session")
def cluster() -> Iterator[RabbitCluster]:
    """Three private nodes clustered together; started on first use."""
    nodes = _started(lambda: RabbitCluster(3), RabbitCluster.start)
    try:
        yield nodes
    finally:
        nodes.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the broker fixtures they use (directly or through other fixtures)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        marks = {
            mark for name in used & _MARKS_BY_FIXTURE.keys() for mark in _MARKS_BY_FIXTURE[name]
        }
        for mark in sorted(marks):
            item.add_marker(getattr(pytest.mark, mark))


def pytest_report_header() -> str:
    """Say which broker integration tests will use (never the password)."""
    url = _external_url()
    if url is None:
        return f"broker: private RabbitMQ node from {BIN_DIR} (started on first use)"
    parts = urllib.parse.urlsplit(url)
    return f"broker: {BROKER_URL_ENV} {parts.scheme}://{parts.hostname}:{parts.port or ''}"
