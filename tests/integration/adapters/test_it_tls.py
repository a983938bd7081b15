"""TLS on the test node's TLS listener, on every adapter (API.md §3.4, §14, §22)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import pika
from pika.adapters.utils import connection_workflow as cw
from tests.support import tls_certs
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name

if TYPE_CHECKING:
    from tests.conftest import TlsBroker


@pytest.fixture(scope="module")
def foreign_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate that did not sign the broker's certificate."""
    return tls_certs.generate(tmp_path_factory.mktemp("foreign-ca")).ca_cert


def open_error(driver: AdapterDriver, params: pika.ConnectionParameters) -> BaseException:
    rec = Recorder()
    driver.connect(params, on_open=rec.cb("open"), on_open_error=rec.cb("open_error"))
    driver.run_until(lambda: bool(rec.calls), what="the TLS connection attempt")
    assert rec.names() == ["open_error"], rec.calls
    error: BaseException = rec.first("open_error")[1]
    return error


def assert_verification_failed(error: BaseException, *needles: str) -> None:
    """The failure names TLS set-up and says why the certificate was refused."""
    assert isinstance(error, cw.AMQPConnectionWorkflowFailed), repr(error)
    last = error.exceptions[-1]
    assert isinstance(last, cw.AMQPConnectorTransportSetupError), repr(last)
    assert isinstance(last.exception, ssl.SSLCertVerificationError), repr(last.exception)
    assert "certificate verify failed" in repr(error)
    assert any(needle in repr(last.exception) for needle in needles), repr(last.exception)


def test_server_is_verified_with_the_generated_ca(
    driver: AdapterDriver, tls_broker: TlsBroker, qname: str
) -> None:
    params = tls_broker.params()
    assert params.host == "127.0.0.1" and params.ssl_options.server_hostname == "localhost"
    conn, _ = driver.open_connection(params)
    ch = driver.open_channel(conn)
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    rec = Recorder()
    ch.basic_consume(qname, rec.cb("deliver"), auto_ack=True)
    body = os.urandom(3 * 1024 * 1024)  # many TLS records each way
    ch.basic_publish("", qname, body)
    driver.run_until(lambda: rec.has("deliver"), timeout=60, what="the delivery over TLS")
    assert rec.first("deliver")[3] == body


def test_a_wrong_ca_fails_verification_clearly(
    driver: AdapterDriver, tls_broker: TlsBroker, foreign_ca: Path
) -> None:
    context = ssl.create_default_context(cafile=str(foreign_ca))
    params = tls_broker.params(ssl_options=pika.SSLOptions(context, "localhost"))
    assert_verification_failed(
        open_error(driver, params), "self-signed certificate", "unable to get local issuer"
    )


def test_server_hostname_is_checked(driver: AdapterDriver, tls_broker: TlsBroker) -> None:
    context = tls_broker.ssl_context()
    wrong = f"{unique_name('elsewhere')}.example"
    params = tls_broker.params(ssl_options=pika.SSLOptions(context, server_hostname=wrong))
    assert_verification_failed(open_error(driver, params), "Hostname mismatch")


def test_external_auth_with_a_client_certificate(
    driver: AdapterDriver, tls_broker: TlsBroker
) -> None:
    name = unique_name("pika-it-external")
    params = tls_broker.params(external=True, client_properties={"connection_name": name})
    assert params.credentials.TYPE == "EXTERNAL"
    conn, _ = driver.open_connection(params)
    ch = driver.open_channel(conn)
    assert driver.rpc(ch.queue_declare, "", exclusive=True).method.queue.startswith("amq.gen-")
    users = [
        row["user"]
        for row in tls_broker.node.list_connections()
        if row["client_properties"].get("connection_name") == name
    ]
    assert users == [tls_broker.client_cn]


def test_external_auth_without_a_client_certificate_is_refused(
    driver: AdapterDriver, tls_broker: TlsBroker
) -> None:
    params = tls_broker.params(credentials=pika.credentials.ExternalCredentials())
    error = open_error(driver, params)
    expected = (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)
    assert isinstance(error, expected), repr(error)
