"""The Twisted example of seed document 002 runs as written against the test broker.

The example uses ``ConnectionParameters('localhost')`` and the queue name
``twisted_test`` exactly as written; the runner only makes the test broker pika's
default (its port and login).  The queue name is kept: it is deleted before and
after the run, so repeated runs do not see each other's message.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.twisted.twisted_harness import Context, run_scenario, run_script, scenario

if TYPE_CHECKING:
    from tests.conftest import Broker

SEED = Path(__file__).with_name("seed_002_twisted_example.py")
QUEUE = "twisted_test"


@scenario
async def _delete_seed_queue(ctx: Context) -> None:
    conn = await ctx.connect()
    ch = await conn.channel()
    await ch.queue_delete(QUEUE)


@scenario
async def _seed_queue_holds_one_message(ctx: Context) -> None:
    conn = await ctx.connect()
    ch = await conn.channel()
    message = await ch.basic_get(QUEUE, auto_ack=True)
    assert message is not None, "the example's message is not in the queue"
    assert message.body == b"Hello Twisted!"
    assert await ch.basic_get(QUEUE) is None


def test_seed_twisted_example_runs_as_written(broker: Broker) -> None:
    if not _is_loopback(broker.host):
        pytest.skip(f"the example connects to 'localhost'; the broker is at {broker.host}")
    path = str(Path(__file__))
    run_scenario(path, "_delete_seed_queue", broker, None)
    try:
        done = run_script(SEED, broker)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines == [
            "Connection opened",
            "Channel opened",
            "Connection closed: Connection was closed cleanly.",
        ], done.stdout + done.stderr
        run_scenario(path, "_seed_queue_holds_one_message", broker, None)
    finally:
        run_scenario(path, "_delete_seed_queue", broker, None)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
