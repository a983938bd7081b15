"""Configure a connection entirely from a URL.

A URL keeps connection settings in one string, which suits config files and
environment variables:

    amqp[s]://USER:PASSWORD@HOST:PORT/VHOST?option=value&option=value

- The vhost is percent-encoded: the default vhost "/" is written %2F; a
  password with special characters must be encoded too (urllib.parse.quote).
- amqps:// turns TLS on (port 5671 by default); see tls_connect.py for
  certificates.
- Options: heartbeat, connection_attempts, retry_delay, socket_timeout,
  stack_timeout, blocked_connection_timeout, channel_max, frame_max, locale,
  client_properties and tcp_options (Python literals), ssl_options.

This program adds a few options to the base URL, shows what they parsed
into, and uses the result.

Usage: python examples/url_parameters.py [AMQP_URL]
Environment: AMQP_URL: the base URL (default amqp://guest:guest@localhost:5672/%2F).
"""

from __future__ import annotations

import os
import sys
import urllib.parse

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def with_options(base: str) -> str:
    """The base URL with connection options appended as a query string."""
    options = {
        "heartbeat": "30",
        "connection_attempts": "3",  # try 3 times ...
        "retry_delay": "1",  # ... 1 s apart
        "socket_timeout": "5",
        "blocked_connection_timeout": "60",
        "client_properties": "{'connection_name': 'url-parameters-example'}",
    }
    separator = "&" if "?" in base else "?"
    return base + separator + urllib.parse.urlencode(options)


def main() -> None:
    url = with_options(broker_url())
    params = pika.URLParameters(url)
    # Show what was parsed (never print the password).
    print(f"host={params.host} port={params.port} vhost={params.virtual_host!r}")
    credentials = params.credentials
    user = credentials.username if isinstance(credentials, pika.PlainCredentials) else "-"
    print(f"user={user} tls={params.ssl_options is not None}")
    print(f"heartbeat={params.heartbeat} connection_attempts={params.connection_attempts}")
    print(f"retry_delay={params.retry_delay} socket_timeout={params.socket_timeout}")
    print(f"blocked_connection_timeout={params.blocked_connection_timeout}")
    print(f"client_properties={params.client_properties}")

    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        print(f"connected and declared {queue!r}")
    print("done")


if __name__ == "__main__":
    main()
