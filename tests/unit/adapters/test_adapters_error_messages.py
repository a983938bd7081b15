"""Rendering of the connection-failure messages (no broker: errors built by hand)."""

from __future__ import annotations

import socket
import ssl

from pika import exceptions
from pika.adapters.utils import connection_workflow as cw


def test_refused_tcp_connect_names_the_endpoint_and_what_to_check() -> None:
    phase = cw.AMQPConnectorSocketConnectError(
        ConnectionRefusedError(111, "refused"), host="h", port=1
    )
    assert str(phase).startswith("TCP connection to h:1 failed: ConnectionRefusedError: ")
    assert "check that the broker is running" in str(phase)
    assert repr(phase).endswith("(host='h', port=1)")


def test_socket_timeout_suggests_reachability_and_socket_timeout() -> None:
    phase = cw.AMQPConnectorSocketConnectError(TimeoutError("timed out"), host="h", port=1)
    assert "firewall" in str(phase) and "socket_timeout" in str(phase)


def test_tls_failures_are_named_as_such() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    phase = cw.AMQPConnectorTransportSetupError(verify, host="h", port=5671)
    assert str(phase).startswith("TLS handshake with h:5671 failed")
    assert "trusts the CA" in str(phase)
    other = cw.AMQPConnectorTransportSetupError(ssl.SSLError(1, "wrong version"), host="h", port=1)
    assert "TLS listener" in str(other)
    plain = cw.AMQPConnectorTransportSetupError(OSError("linkup"), host="h", port=1)
    assert str(plain).startswith("Transport setup with h:1 failed")


def test_ipv6_hosts_are_bracketed() -> None:
    phase = cw.AMQPConnectorSocketConnectError(ConnectionRefusedError(), host="::1", port=5672)
    assert "[::1]:5672" in str(phase)


def test_phase_errors_built_with_args_keep_the_default_str() -> None:
    phase = cw.AMQPConnectorSocketConnectError(OSError(), "custom text", host="h", port=1)
    assert str(phase) == "custom text"


def test_wrapping_amqp_connection_error_renders_the_workflow_failure() -> None:
    refused = cw.AMQPConnectorSocketConnectError(ConnectionRefusedError(), host="h", port=1)
    failure = cw.AMQPConnectionWorkflowFailed([refused, refused])
    assert str(failure).startswith("All 2 connection attempts failed; the last: TCP connection")
    assert "first exception - " in repr(failure)
    error = exceptions.AMQPConnectionError(failure, host="h", port=1)
    assert error.args == (failure,)
    assert str(error) == str(failure)
    assert repr(error) == f"AMQPConnectionError: {failure} (host='h', port=1)"


def test_wrapped_error_without_the_endpoint_gets_it_appended() -> None:
    error = exceptions.AMQPConnectionError(cw.AMQPConnectionWorkflowAborted(), host="h", port=1)
    assert str(error).endswith("(broker h:1)")


def test_dns_failure_names_host_and_port() -> None:
    raw = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    failure = cw.AMQPConnectionWorkflowDNSFailed([raw], host="nowhere", port=5672)
    assert str(failure).startswith("Could not resolve host name 'nowhere' (port 5672): gaierror")
    assert "(host='nowhere', port=5672)" in repr(failure)
    assert "last exception - gaierror(" in repr(failure)


def test_probable_errors_keep_the_default_str_until_pika_locates_them() -> None:
    auth = exceptions.ProbableAuthenticationError("x")
    assert str(auth) == "x" and "probable authentication error" in repr(auth)
    vhost = exceptions.ProbableAccessDeniedError("y")
    assert str(vhost) == "y" and "virtual host" in repr(vhost)


def test_located_probable_errors_name_user_and_vhost_from_the_cause() -> None:
    cause = exceptions.ConnectionClosedByBroker(530, "NOT_ALLOWED - vhost v not found")
    error = exceptions.ProbableAccessDeniedError(repr(cause), host="h", port=1)
    error.__cause__ = cause
    error.username, error.virtual_host = "u", "v"
    assert str(error).startswith(
        "The broker at h:1 refused access to virtual host 'v' as user 'u': (530) NOT_ALLOWED"
    )
    assert error.args == (repr(cause),)


def test_channel_closed_keeps_its_str_and_names_its_place_in_repr() -> None:
    error = exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED - inequivalent arg")
    assert str(error) == "(406, 'PRECONDITION_FAILED - inequivalent arg')"
    bare = repr(error)
    assert bare.startswith("ChannelClosedByBroker: (406) 'PRECONDITION_FAILED - inequivalent arg';")
    error.channel_number, error.host, error.port = 3, "h", 1
    assert "(channel=3, host='h', port=1); a redeclare must use" in repr(error)
    client = exceptions.ChannelClosedByClient(200, "Normal shutdown")
    assert repr(client) == "ChannelClosedByClient: (200) 'Normal shutdown'"
