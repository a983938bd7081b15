"""Heartbeats and blocked-connection timeout with BlockingConnection.

Heartbeats let both ends notice a dead peer: each side sends a small frame
whenever it has been quiet, and the broker closes a connection it has not heard
from for about two heartbeat intervals. BlockingConnection only sends them
while pika has control, i.e. inside a pika call. Long work done between calls
must therefore either call connection.process_data_events() (or
connection.sleep()) now and then, or move to a thread
(see threaded_work.py). This program shows both the right way and what happens
otherwise.

blocked_connection_timeout covers the other way a publisher can hang: when the
broker runs short of memory or disk it stops reading from publishing
connections ("blocked"). With the timeout set, a connection blocked for longer
is closed and the next call raises ConnectionBlockedTimeout instead of waiting
for ever. The blocked/unblocked callbacks tell you when it happens.

Usage: python examples/heartbeats_blocked.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_HEARTBEAT: heartbeat interval in seconds (default 1; a real
             program would use something like 30 to 60).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pika
import pika.exceptions
from pika.connection import Connection
from pika.frame import Method

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def choose_heartbeat(wanted: int) -> pika.connection.Parameters:
    """Parameters whose heartbeat is negotiated by a callable, to show the broker's offer."""

    def negotiate(_: Connection, broker_value: int) -> int:
        # Called during the handshake with the interval the broker proposes.
        print(f"broker proposed a {broker_value} s heartbeat; using {wanted} s")
        return wanted

    parameters = pika.URLParameters(broker_url())
    parameters.heartbeat = negotiate
    parameters.blocked_connection_timeout = 30  # give up if blocked for 30 s
    return parameters


def on_blocked(_: pika.BlockingConnection, frame: Method[Any]) -> None:
    print(f"broker blocked the connection: {frame.method.reason}")


def on_unblocked(_: pika.BlockingConnection, __: object) -> None:
    print("broker unblocked the connection")


def slow_job(connection: pika.BlockingConnection, seconds: float) -> None:
    """Long work done in short steps, letting pika service heartbeats in between."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)  # one step of the real work
        connection.process_data_events()  # sends/receives heartbeats, returns at once


def main() -> None:
    heartbeat = int(os.environ.get("EXAMPLE_HEARTBEAT", "1"))
    connection = pika.BlockingConnection(choose_heartbeat(heartbeat))
    connection.add_on_connection_blocked_callback(on_blocked)
    connection.add_on_connection_unblocked_callback(on_unblocked)
    channel = connection.channel()

    slow_job(connection, 3 * heartbeat)
    print(
        f"after {3 * heartbeat} s of work in small steps the connection is open: "
        f"{connection.is_open}"
    )

    print(f"now blocking for {4 * heartbeat} s without calling pika ...")
    time.sleep(4 * heartbeat)  # stands for a long computation with no pika calls
    try:
        channel.queue_declare("", exclusive=True)
    except pika.exceptions.AMQPConnectionError as exc:
        # StreamLostError (broker hung up) or AMQPHeartbeatTimeout (we noticed first).
        print(f"the connection was lost: {type(exc).__name__}")
    else:
        print("the connection survived (the broker was lenient this time)")
    print(f"done: connection open = {connection.is_open}")


if __name__ == "__main__":
    main()
