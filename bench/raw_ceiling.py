"""The broker's ceiling: a raw-socket AMQP client that only re-sends and counts.

No pika here (standard library only, so it runs under any interpreter): the
handshake and the few methods needed are encoded by hand, publishes are
precomputed frame bytes sent again and again, and consuming only cuts frames
and counts Basic.Deliver. Whatever it measures is what RabbitMQ itself can
take and give on this machine, the ceiling for any client.

Modes (``--mode``), each printing one JSON object on stdout:

* ``publish``: n messages, timed until the broker counts them all;
* ``consume_ack``: drain a pre-filled queue, prefetch 1000, one multiple-ack
  per socket read (the cheapest way to ack everything);
* ``consume_autoack``: the same without acks;
* ``rpc-server``: echo server for the RPC scenario of e2e_bench.py (replies to
  ``reply_to`` with the request's ``correlation_id``), runs until killed.

e2e_bench.py also imports this module to fill and delete queues, so both
packages under test get identical setup.

    python bench/raw_ceiling.py --url amqp://guest:guest@127.0.0.1:5672/ --mode publish
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import struct
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
FRAME_END = b"\xce"
_FRAME_HEAD = struct.Struct(">BHI")
_CLASS_METHOD = struct.Struct(">HH")
DELIVER = _CLASS_METHOD.pack(60, 60)
SMALL_BODY = 64
LARGE_BODY = 1 << 20
_READ_SIZE = 1 << 18
_FLAG_CONTENT_TYPE, _FLAG_ENCODING, _FLAG_HEADERS = 0x8000, 0x4000, 0x2000
_FLAG_DELIVERY_MODE, _FLAG_PRIORITY = 0x1000, 0x0800
_FLAG_CORRELATION_ID, _FLAG_REPLY_TO = 0x0400, 0x0200


def shortstr(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return bytes((len(raw),)) + raw


def longstr(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def frame(kind: int, channel: int, payload: bytes) -> bytes:
    return _FRAME_HEAD.pack(kind, channel, len(payload)) + payload + FRAME_END


def method(channel: int, class_id: int, method_id: int, args: bytes) -> bytes:
    return frame(FRAME_METHOD, channel, _CLASS_METHOD.pack(class_id, method_id) + args)


def message_frames(
    routing_key: str, body: bytes, frame_max: int, properties: bytes = b"\x00\x00"
) -> bytes:
    """Basic.Publish + content header + body frames of one message on channel 1."""
    parts = [
        method(1, 60, 40, b"\x00\x00" + shortstr("") + shortstr(routing_key) + b"\x00"),
        frame(FRAME_HEADER, 1, struct.pack(">HHQ", 60, 0, len(body)) + properties),
    ]
    step = frame_max - 8
    parts.extend(frame(FRAME_BODY, 1, body[i : i + step]) for i in range(0, len(body), step))
    return b"".join(parts)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RawClient:
    """One connection with channel 1 open; just enough AMQP for the benchmarks."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 5672), timeout=timeout
        )
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.server_properties = b""
        self.frame_max = 131072
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self._handshake(user, password, vhost)

    def _handshake(self, user: str, password: str, vhost: str) -> None:
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        start = self.expect(10, 10)
        table_len = struct.unpack_from(">I", start, 6)[0]
        self.server_properties = bytes(start[10 : 10 + table_len])
        response = f"\x00{user}\x00{password}".encode()
        args = b"\x00\x00\x00\x00" + shortstr("PLAIN") + longstr(response) + shortstr("en_US")
        self.sock.sendall(method(0, 10, 11, args))
        tune = self.expect(10, 30)
        channel_max, frame_max = struct.unpack_from(">HI", tune, 4)
        self.frame_max = frame_max or self.frame_max
        self.sock.sendall(method(0, 10, 31, struct.pack(">HIH", channel_max, self.frame_max, 0)))
        self.sock.sendall(method(0, 10, 40, shortstr(vhost) + b"\x00\x00"))
        self.expect(10, 41)
        self.sock.sendall(method(1, 20, 10, b"\x00"))
        self.expect(20, 11)

    def frames(self) -> Iterator[tuple[int, int, bytes]]:
        """Every frame (type, channel, payload) as it arrives; blocks on the socket."""
        while True:
            data = self.sock.recv(_READ_SIZE)
            if not data:
                raise ConnectionError("broker closed the connection")
            self.buffer += data
            yield from self._complete_frames()

    def _complete_frames(self) -> Iterator[tuple[int, int, bytes]]:
        buf, offset = self.buffer, 0
        try:
            while len(buf) - offset >= 7:
                kind, channel, size = _FRAME_HEAD.unpack_from(buf, offset)
                end = offset + 7 + size
                if len(buf) <= end:
                    break
                payload = bytes(buf[offset + 7 : end])
                offset = end + 1
                yield kind, channel, payload
        finally:  # also when the caller stops early: consumed frames must go
            del buf[:offset]

    def expect(self, class_id: int, method_id: int) -> bytes:
        """Read until the method (class_id, method_id) arrives; return its payload."""
        wanted = _CLASS_METHOD.pack(class_id, method_id)
        for kind, _channel, payload in self.frames():
            if kind == FRAME_METHOD and payload[:4] == wanted:
                return payload
            if kind == FRAME_METHOD and payload[:4] in (b"\x00\x0a\x00\x32", b"\x00\x14\x00\x28"):
                raise ConnectionError(f"closed by broker: {payload[7 : 7 + payload[6]]!r}")
        raise AssertionError("unreachable")

    def declare(self, queue: str, passive: bool = False) -> int:
        """Queue.Declare (non-durable); returns the broker's message count."""
        args = b"\x00\x00" + shortstr(queue) + bytes((1 if passive else 0,)) + b"\x00" * 4
        self.sock.sendall(method(1, 50, 10, args))
        reply = self.expect(50, 11)
        return int(struct.unpack_from(">I", reply, 5 + reply[4])[0])

    def delete(self, queue: str) -> None:
        self.sock.sendall(method(1, 50, 40, b"\x00\x00" + shortstr(queue) + b"\x00"))
        self.expect(50, 41)

    def consume(self, queue: str, prefetch: int, no_ack: bool) -> None:
        self.sock.sendall(method(1, 60, 10, struct.pack(">IHB", 0, prefetch, 0)))
        self.expect(60, 11)
        args = b"\x00\x00" + shortstr(queue) + shortstr("") + bytes((2 if no_ack else 0,))
        self.sock.sendall(method(1, 60, 20, args + b"\x00" * 4))
        self.expect(60, 21)

    def wait_count(self, queue: str, count: int, timeout: float = 300.0) -> None:
        """Poll a passive declare until the queue holds *count* messages."""
        deadline = time.monotonic() + timeout
        while self.declare(queue, passive=True) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue {queue!r} never reached {count} messages")
            time.sleep(0.001)

    def close(self) -> None:
        try:
            self.sock.sendall(method(0, 10, 50, struct.pack(">H", 200) + shortstr("") + b"\0" * 4))
            self.expect(10, 51)
        except (OSError, ConnectionError):
            pass
        self.sock.close()

    def broker_version(self) -> str:
        marker = self.server_properties.find(b"\x07versionS")
        if marker < 0:
            return "unknown"
        start = marker + 9
        size = struct.unpack_from(">I", self.server_properties, start)[0]
        return self.server_properties[start + 4 : start + 4 + size].decode()


def publish(client: RawClient, queue: str, count: int, size: int) -> None:
    """Send *count* messages as repeated precomputed batches (no wait)."""
    one = message_frames(queue, b"x" * size, client.frame_max)
    per_batch = max(1, min(1000, (1 << 17) // len(one)))
    batch = one * per_batch
    for _ in range(count // per_batch):
        client.sock.sendall(batch)
    client.sock.sendall(one * (count % per_batch))


def fill(url: str, queue: str, count: int, size: int) -> None:
    """Declare *queue* and put exactly *count* messages of *size* bytes in it."""
    client = RawClient(url)
    try:
        client.declare(queue)
        publish(client, queue, count, size)
        client.wait_count(queue, count)
    finally:
        client.close()


def delete_queue(url: str, queue: str) -> None:
    client = RawClient(url)
    try:
        client.delete(queue)
    finally:
        client.close()


def drain(client: RawClient, count: int, ack: bool) -> None:
    """Count deliveries until *count*; with *ack*, one multiple-ack per read."""
    seen = 0
    last_tag = 0
    while seen < count:
        data = client.sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("broker closed the connection")
        client.buffer += data
        for kind, _channel, payload in client._complete_frames():
            if kind == FRAME_METHOD and payload[:4] == DELIVER:
                seen += 1
                last_tag = struct.unpack_from(">Q", payload, 5 + payload[4])[0]
        if ack and last_tag:
            client.sock.sendall(method(1, 60, 80, struct.pack(">QB", last_tag, 1)))
            last_tag = 0


def measure(url: str, mode: str, count: int, size: int) -> dict[str, Any]:
    """Run one ceiling mode; msgs/s and CPU µs/msg over the timed part only."""
    queue = f"bench.raw.{mode}.{os.getpid()}"
    if mode != "publish":
        fill(url, queue, count, size)
    client = RawClient(url)
    try:
        if mode == "publish":
            client.declare(queue)
        else:
            client.consume(queue, 10 if size >= LARGE_BODY else 1000, mode == "consume_autoack")
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        if mode == "publish":
            publish(client, queue, count, size)
            client.wait_count(queue, count)
        else:
            drain(client, count, mode == "consume_ack")
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        client.delete(queue)
    finally:
        client.close()
    return {
        "mode": mode,
        "count": count,
        "size": size,
        "seconds": seconds,
        "msgs_per_s": count / seconds,
        "mb_per_s": count * size / seconds / 1e6,
        "cpu_us_per_msg": cpu * 1e6 / count,
    }


def _properties(payload: bytes) -> tuple[bytes, bytes]:
    """(correlation_id, reply_to) out of a content header payload."""
    flags = struct.unpack_from(">H", payload, 12)[0]
    offset = 14
    values: dict[int, bytes] = {}
    for flag in (_FLAG_CONTENT_TYPE, _FLAG_ENCODING):
        if flags & flag:
            offset += 1 + payload[offset]
    if flags & _FLAG_HEADERS:
        offset += 4 + struct.unpack_from(">I", payload, offset)[0]
    offset += (1 if flags & _FLAG_DELIVERY_MODE else 0) + (1 if flags & _FLAG_PRIORITY else 0)
    for flag in (_FLAG_CORRELATION_ID, _FLAG_REPLY_TO):
        if flags & flag:
            values[flag] = payload[offset + 1 : offset + 1 + payload[offset]]
            offset += 1 + payload[offset]
    return values.get(_FLAG_CORRELATION_ID, b""), values.get(_FLAG_REPLY_TO, b"")


def rpc_server(url: str, queue: str) -> None:
    """Echo every request on *queue* to its reply_to, keeping correlation_id."""
    client = RawClient(url)
    client.declare(queue)
    client.consume(queue, 0, no_ack=True)
    print("ready", flush=True)
    correlation, reply_to = b"", b""
    for kind, _channel, payload in client.frames():
        if kind == FRAME_HEADER:
            correlation, reply_to = _properties(payload)
            if struct.unpack_from(">Q", payload, 4)[0] == 0:
                _reply(client, reply_to, correlation, b"")
        elif kind == FRAME_BODY:
            _reply(client, reply_to, correlation, payload)


def _reply(client: RawClient, reply_to: bytes, correlation: bytes, body: bytes) -> None:
    props = struct.pack(">H", _FLAG_CORRELATION_ID) + shortstr(correlation)
    client.sock.sendall(message_frames(reply_to.decode(), body, client.frame_max, props))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"), required=False)
    parser.add_argument(
        "--mode",
        required=True,
        choices=["publish", "consume_ack", "consume_autoack", "rpc-server", "version"],
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=SMALL_BODY)
    parser.add_argument("--queue", default="bench.rpc")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or PIKA_BENCH_URL is required")
    if args.mode == "rpc-server":
        rpc_server(args.url, args.queue)
    elif args.mode == "version":
        client = RawClient(args.url)
        print(json.dumps({"broker_version": client.broker_version()}))
        client.close()
    else:
        json.dump(measure(args.url, args.mode, args.count, args.size), sys.stdout)
        print()


if __name__ == "__main__":
    main()
