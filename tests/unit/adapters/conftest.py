"""Fixtures for the adapter I/O tests."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from pika.adapters.select_connection import IOLoop
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from tests.support import tls_certs


@pytest.fixture
def ioloop() -> Iterator[IOLoop]:
    loop = IOLoop()
    yield loop
    loop.close()


@pytest.fixture
def nbio(ioloop: IOLoop) -> SelectorIOServicesAdapter:
    return SelectorIOServicesAdapter(ioloop)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tls_certs.TlsFiles:
    return tls_certs.generate(Path(tmp_path_factory.mktemp("adapter-tls")))


@pytest.fixture
def server_ssl_context(tls_files: tls_certs.TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.server_cert, tls_files.server_key)
    return context


@pytest.fixture
def client_ssl_context(tls_files: tls_certs.TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls_files.ca_cert))
    return context
