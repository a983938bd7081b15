"""Raw-socket floors for the round-trip scenarios (no pika: stdlib and raw_ceiling only).

A client that sends precomputed frames and waits for the answer with one
blocking ``recv`` does the least work any client can do per round trip; its
CPU µs per message is what the kernel, the wake-ups and the shared cores cost
on this machine at this moment, the floor under every client's number.

Modes (``--mode``), each printing one JSON object like raw_ceiling.py:

* ``confirm_each``: publisher confirms, each publish waits for its Ack (the
  floor of blocking_publish_confirm);
* ``confirm_window``: up to 1000 unconfirmed publishes, topped up once per
  socket read (the broker's ceiling for select_publish_confirm);
* ``rpc_round_trip``: request to the raw echo server, wait for the reply
  (the floor of rpc_latency).

    python bench/raw_round_trips.py --url URL --mode confirm_each [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_ceiling as raw

ACK = raw._CLASS_METHOD.pack(60, 80)
WINDOW = 1000
_READ_SIZE = 1 << 16


def _select_confirms(client: raw.RawClient) -> None:
    client.sock.sendall(raw.method(1, 85, 10, b"\x00"))
    client.expect(85, 11)


def confirm_each(client: raw.RawClient, queue: str, count: int, size: int) -> None:
    _select_confirms(client)
    one = raw.message_frames(queue, b"x" * size, client.frame_max)
    sock = client.sock
    for _ in range(count):
        sock.sendall(one)
        sock.recv(_READ_SIZE)  # the Ack is one small frame: it comes whole


def _acked(client: raw.RawClient, confirmed: int) -> int:
    """Read once; return the new count of confirmed messages (acks come in order)."""
    data = client.sock.recv(_READ_SIZE)
    if not data:
        raise ConnectionError("broker closed the connection")
    client.buffer += data
    for kind, _channel, payload in client._complete_frames():
        if kind == raw.FRAME_METHOD and payload[:4] == ACK:
            tag = struct.unpack_from(">Q", payload, 4)[0]
            confirmed = tag if payload[12] & 1 else confirmed + 1
    return confirmed


def confirm_window(client: raw.RawClient, queue: str, count: int, size: int) -> None:
    _select_confirms(client)
    one = raw.message_frames(queue, b"x" * size, client.frame_max)
    published = min(WINDOW, count)
    client.sock.sendall(one * published)
    confirmed = 0
    while confirmed < count:
        confirmed = _acked(client, confirmed)
        room = min(WINDOW - (published - confirmed), count - published)
        if room > 0:
            client.sock.sendall(one * room)
            published += room


def rpc_round_trip(client: raw.RawClient, queue: str, count: int, size: int) -> None:
    reply_queue = f"{queue}.reply"
    client.declare(reply_queue)
    client.consume(reply_queue, 0, no_ack=True)
    props = struct.pack(">H", raw._FLAG_CORRELATION_ID | raw._FLAG_REPLY_TO)
    request = raw.message_frames(
        queue, b"x" * size, client.frame_max, props + raw.shortstr("1") + raw.shortstr(reply_queue)
    )
    sock = client.sock
    for _ in range(count):
        sock.sendall(request)
        _await_reply(client)
    client.delete(reply_queue)


def _await_reply(client: raw.RawClient) -> None:
    """Read until the reply's body frame (the last frame of the message) is in."""
    while True:
        data = client.sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("broker closed the connection")
        client.buffer += data
        if any(kind == raw.FRAME_BODY for kind, _c, _p in client._complete_frames()):
            return


MODES: dict[str, Callable[[raw.RawClient, str, int, int], None]] = {
    "confirm_each": confirm_each,
    "confirm_window": confirm_window,
    "rpc_round_trip": rpc_round_trip,
}


def _echo_server(url: str, queue: str) -> subprocess.Popen[str]:
    command = [sys.executable, raw.__file__, "--url", url, "--mode", "rpc-server"]
    server = subprocess.Popen([*command, "--queue", queue], stdout=subprocess.PIPE, text=True)
    if server.stdout is None or server.stdout.readline().strip() != "ready":
        server.terminate()
        raise RuntimeError("rpc echo server did not start")
    return server


def measure(url: str, mode: str, count: int, size: int) -> dict[str, Any]:
    """Run one mode; msgs/s and CPU µs/msg over the timed part only."""
    queue = f"bench.raw.{mode}.{os.getpid()}"
    server = _echo_server(url, queue) if mode == "rpc_round_trip" else None
    client = raw.RawClient(url)
    try:
        client.declare(queue)
        cpu0, t0 = raw.cpu_seconds(), time.perf_counter()
        MODES[mode](client, queue, count, size)
        seconds, cpu = time.perf_counter() - t0, raw.cpu_seconds() - cpu0
        client.delete(queue)
    finally:
        client.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return {
        "mode": mode,
        "count": count,
        "size": size,
        "seconds": seconds,
        "msgs_per_s": count / seconds,
        "mb_per_s": count * size / seconds / 1e6,
        "cpu_us_per_msg": cpu * 1e6 / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--mode", required=True, choices=sorted(MODES))
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--size", type=int, default=raw.SMALL_BODY)
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or PIKA_BENCH_URL is required")
    print(json.dumps(measure(args.url, args.mode, args.count, args.size)))


if __name__ == "__main__":
    main()
