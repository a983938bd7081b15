"""Codec micro-benchmark: ns per message, runnable against any pika 1.x.

Scenarios (64-byte body, properties with content_type, delivery_mode and a
two-entry headers table):

* ``encode_public``: build BasicProperties and Basic.Publish, marshal the
  method, header and body frames with ``pika.frame`` and join them.
* ``decode_public``: ``pika.frame.decode_frame`` three times over the wire
  bytes of a Basic.Deliver message, returning method, properties and body.
* ``decode_unique_public``: the same, but no two messages have the same
  property bytes (the trace-id header value counts up).
* ``encode_fast`` / ``decode_fast`` / ``decode_unique_fast`` (only when
  ``pika._wire`` exists, i.e. this rewrite): ``publish.encode_publish`` and
  ``FrameReader.feed/read``.

The script uses only ``pika.spec`` and ``pika.frame`` for the public side so
it runs unchanged under pika 1.4.4. It prints one JSON object on stdout.

    python bench/codec_bench.py [--number N] [--repeat R]
    python bench/codec_bench.py --loop SCENARIO [--count N] [--unique M]   # for valgrind
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, cast

import pika
from pika import frame, spec

EXCHANGE = "bench.exchange"
ROUTING_KEY = "bench.routing.key"
BODY = bytes(range(64))
HEADERS = {"trace-id": "4bf92f3577b34da6", "attempt": 1}
CONTENT_TYPE = "application/octet-stream"
FRAME_MAX = 131072
UNIQUE_COUNT = 0  # set by main() from --number and --repeat


def make_properties() -> Any:
    return spec.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2, headers=HEADERS)


def encode_public() -> bytes:
    props = make_properties()
    method = spec.Basic.Publish(exchange=EXCHANGE, routing_key=ROUTING_KEY)
    return b"".join(
        (
            frame.Method(1, method).marshal(),
            frame.Header(1, len(BODY), props).marshal(),
            frame.Body(1, BODY).marshal(),
        )
    )


def deliver_wire() -> bytes:
    method = spec.Basic.Deliver(
        consumer_tag="ctag1.0123456789abcdef0123456789abcdef",
        delivery_tag=123456,
        redelivered=False,
        exchange=EXCHANGE,
        routing_key=ROUTING_KEY,
    )
    return b"".join(
        (
            frame.Method(1, method).marshal(),
            frame.Header(1, len(BODY), make_properties()).marshal(),
            frame.Body(1, BODY).marshal(),
        )
    )


def decode_public(data: bytes) -> tuple[Any, Any, bytes]:
    consumed, method_frame = frame.decode_frame(data)
    data = data[consumed:]
    consumed, header_frame = frame.decode_frame(data)
    data = data[consumed:]
    consumed, body_frame = frame.decode_frame(data)
    return method_frame.method, header_frame.properties, body_frame.fragment


def unique_wires(count: int) -> Callable[[], bytes]:
    """Deliveries whose trace-id header differs in each of ``count`` messages.

    The 16 hex digits of the header value are patched in a template, so no
    two messages share their property bytes (nothing can be memoised).
    """
    template = deliver_wire()
    at = template.index(HEADERS["trace-id"].encode())  # type: ignore[union-attr]
    head, tail = template[:at], template[at + 16 :]
    wires = iter([head + b"%016x" % index + tail for index in range(count)])
    return lambda: next(wires)


def fast_paths() -> dict[str, Callable[[], object]]:
    """The rewrite's private fast paths, if this pika has them."""
    try:
        from pika._wire import publish, reader
    except ImportError:
        return {}
    wire = deliver_wire()
    frame_reader = reader.FrameReader(FRAME_MAX)

    def encode_fast() -> bytes:
        props = make_properties()
        return publish.encode_publish(1, EXCHANGE, ROUTING_KEY, False, props, BODY, FRAME_MAX)

    def decode_fast() -> tuple[Any, Any, bytes]:
        frame_reader.feed(wire)
        items: Any = frame_reader.read()
        ((_, method, properties, body),) = items
        return method, properties, body

    def decode_unique_fast() -> tuple[Any, Any, bytes]:
        frame_reader.feed(next_unique())
        items: Any = frame_reader.read()
        ((_, method, properties, body),) = items
        return method, properties, body

    next_unique = unique_wires(UNIQUE_COUNT)
    return {
        "encode_fast": encode_fast,
        "decode_fast": decode_fast,
        "decode_unique_fast": decode_unique_fast,
    }


def check(name: str, result: object, wire: bytes, publish: bytes) -> None:
    """Fail loudly if a scenario does not produce the expected output."""
    if name.startswith("encode"):
        if result != publish:
            raise SystemExit(f"{name} produced different wire bytes")
        return
    method, props, body = cast(tuple[Any, Any, bytes], result)
    expected = dict(HEADERS, **{"trace-id": "0" * 16}) if "unique" in name else HEADERS
    ok = (
        method.delivery_tag == 123456
        and method.routing_key == ROUTING_KEY
        and props.headers == expected
        and props.delivery_mode == 2
        and body == BODY
    )
    if not ok:
        raise SystemExit(f"{name} decoded the wrong message")


def time_per_call(
    func: Callable[[], object], number: int, repeat: int
) -> tuple[list[float], list[float]]:
    """(CPU ns, wall ns) per call for each of ``repeat`` timed loops (GC off).

    CPU time of this process is the primary figure: on a shared machine it is
    far less disturbed by other processes than wall-clock time.
    """
    cpu, wall = [], []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start_cpu, start_wall = time.process_time_ns(), time.perf_counter_ns()
            for _ in range(number):
                func()
            end_cpu, end_wall = time.process_time_ns(), time.perf_counter_ns()
        finally:
            gc.enable()
        cpu.append((end_cpu - start_cpu) / number)
        wall.append((end_wall - start_wall) / number)
    return cpu, wall


def loop(name: str, count: int, unique: int) -> None:
    """Call one scenario ``count`` times: for counting instructions under valgrind."""
    global UNIQUE_COUNT
    UNIQUE_COUNT = unique + 1
    wire = deliver_wire()
    scenarios: dict[str, Callable[[], object]] = {
        "encode_public": encode_public,
        "decode_public": lambda: decode_public(wire),
        "decode_unique_public": lambda: decode_public(unique()),
        **fast_paths(),
    }
    unique = unique_wires(UNIQUE_COUNT)
    func = scenarios[name]
    check(name, func(), wire, encode_public())
    for _ in range(count - 1):
        func()


def main() -> None:
    parser = argparse.ArgumentParser(description="pika codec micro-benchmark")
    parser.add_argument("--number", type=int, default=20000, help="calls per timed loop")
    parser.add_argument("--repeat", type=int, default=5, help="timed loops per scenario")
    parser.add_argument(
        "--loop", metavar="SCENARIO", help="only call SCENARIO --count times (no timing)"
    )
    parser.add_argument("--count", type=int, default=10000, help="calls made by --loop")
    parser.add_argument(
        "--unique",
        type=int,
        default=0,
        help="distinct messages --loop prepares (default --count); keep it the same "
        "across runs whose instruction counts are subtracted",
    )
    args = parser.parse_args()
    if args.loop:
        loop(args.loop, args.count, max(args.unique, args.count))
        return

    wire = deliver_wire()
    publish = encode_public()
    # Enough distinct messages for the check, the warm-up and every timed loop.
    global UNIQUE_COUNT
    UNIQUE_COUNT = 1 + args.number // 10 + args.number * args.repeat
    next_unique = unique_wires(UNIQUE_COUNT)
    scenarios: dict[str, Callable[[], object]] = {
        "encode_public": encode_public,
        "decode_public": lambda: decode_public(wire),
        "decode_unique_public": lambda: decode_public(next_unique()),
        **fast_paths(),
    }
    results = {}
    for name, func in scenarios.items():
        check(name, func(), wire, publish)
        time_per_call(func, max(1, args.number // 10), 1)  # warm-up
        cpu, wall = time_per_call(func, args.number, args.repeat)
        results[name] = {
            "median": statistics.median(cpu),
            "min": min(cpu),
            "wall_median": statistics.median(wall),
        }
    report = {
        "pika": pika.__version__,
        "pika_file": pika.__file__,
        "fast_path": "encode_fast" in scenarios,
        "python": platform.python_version(),
        "publish_sha256": hashlib.sha256(publish).hexdigest(),
        "deliver_sha256": hashlib.sha256(wire).hexdigest(),
        "results": results,
    }
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
