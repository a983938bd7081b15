"""Connect over TLS: verify the broker's certificate, optionally present a client one.

Server verification is what makes TLS worth having: the client checks that the
broker's certificate was signed by a CA it trusts and names the host it dialled.
ssl.create_default_context() does both; give it your CA's certificate if the
broker's is not signed by a public CA. pika.SSLOptions carries the context, and
server_hostname says which name to expect (by default the host connected to).

A client certificate proves the client's identity to the broker. With
AMQP_TLS_EXTERNAL=1 it also replaces the password: the EXTERNAL mechanism logs in
as the user named by the certificate (the broker needs the
rabbitmq_auth_mechanism_ssl plugin and a matching user).

Usage: python examples/tls_connect.py [AMQPS_URL]
Environment: AMQP_URL (default amqps://guest:guest@localhost:5671/%2F),
             AMQP_CA_CERT: CA certificate file (default: the system's trusted CAs),
             AMQP_CLIENT_CERT, AMQP_CLIENT_KEY: client certificate and key files,
             AMQP_TLS_EXTERNAL=1: log in with the client certificate (EXTERNAL).
"""

from __future__ import annotations

import os
import ssl
import sys

import pika
import pika.credentials

DEFAULT_URL = "amqps://guest:guest@localhost:5671/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def tls_context() -> ssl.SSLContext:
    """A client context that verifies the broker, with our certificate if we have one."""
    # cafile=None means the system's trusted CAs; verification stays on either way.
    context = ssl.create_default_context(cafile=os.environ.get("AMQP_CA_CERT"))
    cert = os.environ.get("AMQP_CLIENT_CERT")
    if cert:
        context.load_cert_chain(cert, os.environ.get("AMQP_CLIENT_KEY"))
        print("presenting a client certificate")
    return context


def parameters() -> pika.URLParameters:
    params = pika.URLParameters(broker_url())
    # An amqps:// URL turns TLS on with default settings; replace them with ours.
    params.ssl_options = pika.SSLOptions(tls_context(), server_hostname=params.host)
    if os.environ.get("AMQP_TLS_EXTERNAL") == "1":
        params.credentials = pika.credentials.ExternalCredentials()
    print(f"logging in with {params.credentials.TYPE} to {params.host}:{params.port}")
    return params


def main() -> int:
    params = parameters()
    try:
        connection = pika.BlockingConnection(params)
    except ssl.SSLCertVerificationError as exc:
        # The broker's certificate is not trusted, or does not name this host.
        print(f"certificate verification failed: {exc.verify_message}")
        return 1
    with connection:
        print("TLS connection open, broker certificate verified")
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.basic_publish("", queue, "sent over TLS")
        _, _, body = channel.basic_get(queue, auto_ack=True)
        print(f"round trip over TLS: {body!r}")
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
