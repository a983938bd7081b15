"""Fail over between brokers: give BlockingConnection a list of parameters.

Pass a list of ConnectionParameters (one per node of a cluster, say) and pika
tries them in order, each with its own connection_attempts and retry_delay,
until one accepts the connection; only if all fail does it raise, with the
error from the last attempt. Set a short socket_timeout on entries that may be
unreachable, so a dead node does not hold up the rest.

Here the first entry is a port on this machine where nothing listens, standing
in for a node that is down; the second is the broker from the URL.

Usage: python examples/multiple_hosts.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F).
"""

from __future__ import annotations

import os
import socket
import sys

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def unused_port() -> int:
    """A local port nobody listens on (the OS hands out a free one, which we release)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    live = pika.URLParameters(broker_url())
    dead = pika.ConnectionParameters(
        host="127.0.0.1",
        port=unused_port(),
        credentials=live.credentials,
        connection_attempts=2,  # try this node twice ...
        retry_delay=0.2,  # ... a moment apart, then move on
        socket_timeout=2,
    )
    candidates = [dead, live]
    for number, params in enumerate(candidates, start=1):
        print(f"candidate {number}: {params.host}:{params.port}")

    with pika.BlockingConnection(candidates) as connection:
        # BlockingConnection has no public accessor for the chosen parameters; the
        # underlying async connection (_impl) has them in its public `params`.
        chosen = connection._impl.params
        number = candidates.index(chosen) + 1  # parameters compare by host and port
        print(f"connected to candidate {number}: {chosen.host}:{chosen.port}")
        channel = connection.channel()
        channel.queue_declare("", exclusive=True)
        print("channel open and queue declared")
    print("done")


if __name__ == "__main__":
    main()
