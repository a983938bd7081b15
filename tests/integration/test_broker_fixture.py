"""The broker fixtures work: checked with raw sockets and pamqp, never with pika."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import urllib.parse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from pamqp import body, commands, header

from tests.support.rabbitmq_node import RabbitCluster, RabbitNode
from tests.support.raw_amqp import FRAME_END, PROTOCOL_HEADER, RawConnection

if TYPE_CHECKING:
    from tests.conftest import Broker, TlsBroker

CONNECTION_START = struct.pack(">HH", 10, 10)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes"
        data += chunk
    return data


def read_connection_start(sock: socket.socket) -> bytes:
    """Send the protocol header, return the payload of the broker's first frame."""
    sock.sendall(PROTOCOL_HEADER)
    kind, channel, size = struct.unpack(">BHI", read_exactly(sock, 7))
    payload = read_exactly(sock, size + 1)
    assert (kind, channel) == (1, 0)
    assert payload[-1] == FRAME_END
    assert payload[:4] == CONNECTION_START
    return payload[:-1]


def test_broker_answers_the_protocol_header_with_connection_start(broker: Broker) -> None:
    with socket.create_connection((broker.host, broker.port), timeout=10) as sock:
        payload = read_connection_start(sock)
    assert payload[4:6] == b"\x00\x09"  # version-major 0, version-minor 9
    assert b"PLAIN" in payload


def test_broker_url_names_the_same_listener(broker: Broker) -> None:
    parts = urllib.parse.urlsplit(broker.url)  # compared piecewise: no password in reports
    assert (parts.scheme, parts.hostname, parts.port) == (broker.scheme, broker.host, broker.port)
    assert "guest" not in repr(broker)


def test_tls_listener_verifies_against_the_generated_ca(tls_broker: TlsBroker) -> None:
    context = tls_broker.ssl_context()
    with (
        socket.create_connection((tls_broker.host, tls_broker.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=tls_broker.server_hostname) as sock,
    ):
        payload = read_connection_start(sock)
        assert sock.version() in {"TLSv1.2", "TLSv1.3"}
    assert b"PLAIN" in payload


def test_tls_listener_is_rejected_without_the_test_ca(tls_broker: TlsBroker) -> None:
    context = ssl.create_default_context()  # system CAs only
    with (
        socket.create_connection((tls_broker.host, tls_broker.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname=tls_broker.server_hostname)


def test_client_certificate_logs_in_with_external(tls_broker: TlsBroker) -> None:
    context = tls_broker.ssl_context(client_cert=True)
    with RawConnection.open(
        tls_broker.host,
        tls_broker.port,
        context=context,
        server_hostname=tls_broker.server_hostname,
    ) as conn:
        tune = conn.handshake(mechanism="EXTERNAL", response="")
        assert tune.frame_max > 0
        users = {row["user"] for row in tls_broker.node.list_connections()}
    assert tls_broker.client_cn in users


def test_ctl_runs_against_the_private_node(broker: Broker) -> None:
    node = broker.require_node()
    status = node.ctl_json("status")
    assert node.dir is not None
    assert status["data_directory"].startswith(str(node.dir))  # nothing under /var/lib
    assert [str(node.dir / "rabbitmq.conf")] == status["config_files"]
    assert str(node.port) in json.dumps(status["listeners"])
    assert node.list_queues() == []


def test_user_vhost_and_queue_helpers(broker: Broker) -> None:
    node = broker.require_node()
    vhost, user = f"vh-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    node.add_vhost(vhost)
    node.add_user(user, "secret", tags=["management"])
    node.set_permissions(user, vhost)
    try:
        with RawConnection.open(broker.host, broker.port) as conn:
            conn.handshake(response=f"\0{user}\0secret", vhost=vhost)
            conn.send(commands.Channel.Open(), 1)
            conn.expect(commands.Channel.OpenOk)
            conn.send(commands.Queue.Declare(queue="helper-q"), 1)
            conn.expect(commands.Queue.DeclareOk)
        queues = node.list_queues(vhost)
        assert [(q["name"], q["messages"]) for q in queues] == [("helper-q", 0)]
    finally:
        node.delete_vhost(vhost)
        node.delete_user(user)
    assert vhost not in {row["name"] for row in node.ctl_json("list_vhosts")}


def test_close_connection_named_forces_a_320_close(broker: Broker) -> None:
    node = broker.require_node()
    name = f"fixture-{uuid.uuid4().hex[:8]}"
    with RawConnection.open(broker.host, broker.port) as conn:
        conn.handshake(client_properties={"connection_name": name})
        assert node.close_connection_named(name, "closed by the fixture test") == 1
        close = conn.expect(commands.Connection.Close)
    assert close.reply_code == 320
    assert "closed by the fixture test" in close.reply_text
    assert node.close_connection_named(name) == 0


def test_close_all_connections(broker: Broker) -> None:
    node = broker.require_node()
    with (
        RawConnection.open(broker.host, broker.port) as first,
        RawConnection.open(broker.host, broker.port) as second,
    ):
        first.handshake()
        second.handshake()
        node.close_all_connections("everyone out")
        for conn in (first, second):
            assert conn.expect(commands.Connection.Close).reply_code == 320


def test_memory_alarm_blocks_and_unblocks_a_publisher(broker: Broker) -> None:
    node = broker.require_node()
    capabilities = {"capabilities": {"connection.blocked": True}}
    with RawConnection.open(broker.host, broker.port) as conn:
        conn.handshake(client_properties=capabilities)
        conn.send(commands.Channel.Open(), 1)
        conn.expect(commands.Channel.OpenOk)
        node.set_memory_alarm(True)
        try:
            # The broker says "blocked" to connections that publish while the alarm is on.
            conn.send(commands.Basic.Publish(exchange="", routing_key="nowhere"), 1)
            conn.send(header.ContentHeader(0, 2), 1)
            conn.send(body.ContentBody(b"hi"), 1)
            conn.expect(commands.Connection.Blocked)
        finally:
            node.set_memory_alarm(False)
        conn.expect(commands.Connection.Unblocked)
    assert not node.memory_alarm_active()


def test_restart_app_drops_connections_and_comes_back(broker: Broker) -> None:
    node = broker.require_node()
    with RawConnection.open(broker.host, broker.port) as conn:
        conn.handshake()
        node.restart_app()
        last = conn.read_frame()
    assert last is None or isinstance(last[1], commands.Connection.Close)
    with socket.create_connection((broker.host, broker.port), timeout=10) as sock:
        read_connection_start(sock)


def test_node_restart_keeps_port_and_data_and_stop_leaves_nothing(
    node_factory: Callable[..., RabbitNode],
) -> None:
    node = node_factory()
    port = node.port
    with RawConnection.open(node.host, node.port) as conn:
        conn.handshake()
        conn.send(commands.Channel.Open(), 1)
        conn.expect(commands.Channel.OpenOk)
        conn.send(commands.Queue.Declare(queue="survivor", durable=True), 1)
        conn.expect(commands.Queue.DeclareOk)
        node.restart()  # with a client still connected
    assert node.port == port
    assert [q["name"] for q in node.list_queues()] == ["survivor"]
    with socket.create_connection((node.host, node.port), timeout=10) as sock:
        read_connection_start(sock)
    directory, pid = node.dir, int(node.ctl("eval", "os:getpid().").strip().strip('"'))
    assert directory is not None and directory.is_dir()
    node.stop()
    assert not directory.exists()
    assert not node.running
    assert not _process_exists(pid)


@pytest.mark.slow
def test_cluster_of_three_nodes(cluster: RabbitCluster) -> None:
    names = sorted(node.nodename for node in cluster.nodes)
    for via in range(3):
        assert sorted(cluster.running_nodes(via)) == names
    for node in cluster.nodes:
        with socket.create_connection((node.host, node.port), timeout=10) as sock:
            read_connection_start(sock)


def _process_exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
