from __future__ import annotations
import socket, ssl, threading
import pika, pytest
from pika.adapters.select_connection import SelectConnection
from tests.support.faultproxy import FaultProxy

PW = "s3cr3t-Pa55"

def _free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def show(tag, exc):
    print(f"\n=== {tag}: type={type(exc).__mro__[:3]}\n str={str(exc)!r}\n repr={exc!r}\n args={exc.args!r}")

def cases(broker, tls_broker):
    node = broker.node
    try:
        node.add_user("erruser", "right-pw")
        node.set_permissions("erruser")
    except Exception as e:
        print("add_user", e)
    p = _free_port()
    return {
        "refused": pika.ConnectionParameters("127.0.0.1", p, connection_attempts=1),
        "dns": pika.ConnectionParameters("no-such-host.invalid", 5672, connection_attempts=1),
        "badcreds": broker.params(credentials=pika.PlainCredentials("erruser", PW)),
        "vhost": broker.params(virtual_host="no-such-vhost"),
        "tls": pika.ConnectionParameters(tls_broker.host, tls_broker.port, ssl_options=pika.SSLOptions(ssl.create_default_context(), server_hostname="localhost"), connection_attempts=1),
    }

def test_blocking(broker, tls_broker):
    for tag, params in cases(broker, tls_broker).items():
        try:
            pika.BlockingConnection(params)
        except BaseException as e:
            show("blocking " + tag, e)

def test_select(broker, tls_broker):
    for tag, params in cases(broker, tls_broker).items():
        out = []
        def err(c, e):
            out.append(e); c.ioloop.stop()
        c = SelectConnection(params, on_open_callback=lambda c: c.ioloop.stop(), on_open_error_callback=err)
        c.ioloop.call_later(15, c.ioloop.stop)
        c.ioloop.start()
        show("select " + tag, out[0] if out else Exception("none"))

def test_threadsafe(broker, tls_broker):
    for tag, params in cases(broker, tls_broker).items():
        try:
            pika.Connection(params)
        except BaseException as e:
            show("ts " + tag, e)

def test_heartbeat_and_channel(broker):
    with FaultProxy("127.0.0.1", broker.port) as proxy:
        conn = pika.BlockingConnection(broker.params(host="127.0.0.1", port=proxy.port, heartbeat=1))
        ch = conn.channel()
        try:
            ch.queue_declare("nope", passive=True)
        except BaseException as e:
            show("channel", e)
        proxy.stall()
        try:
            conn.sleep(6)
        except BaseException as e:
            show("heartbeat", e)
