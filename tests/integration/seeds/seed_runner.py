"""Run one seed example as a program against the test broker.

Usage: ``python seed_runner.py PORT SEED_FILE [EPILOGUE]``

The seeds connect to ``localhost`` on the default port; the test broker listens on
another port, so the default port is pointed at it before the seed runs. That is
the only thing done before the seed, which then runs unchanged as ``__main__``.
Some seeds only define things (the adapter factory) or build a connection without
running it (the poller override); an EPILOGUE then exercises what they built and
prints what it saw.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from typing import Any

#: Bound of every loop run by an epilogue (seconds).
WAIT = 20.0


def _run_until_closed(conn: Any, run: Callable[[], None], stop: Callable[[], None]) -> None:
    """Close *conn* once open, stop its loop once closed; bounded by a watchdog."""
    conn.add_on_open_callback(lambda c: c.close())
    conn.add_on_close_callback(lambda *_: stop())
    conn.add_on_open_error_callback(lambda *_: stop(), remove_default=False)
    handle = conn.ioloop.call_later(WAIT, stop)
    run()
    if hasattr(conn.ioloop, "remove_timeout"):
        conn.ioloop.remove_timeout(handle)
    else:
        handle.cancel()
    print(f"{type(conn).__name__} closed: {conn.is_closed}", flush=True)


def factory_epilogue(namespace: dict[str, Any]) -> None:
    """Open and close one connection of every type the seed's factory builds."""
    create_connection = namespace["create_connection"]
    for kind in ("select", "asyncio", "tornado"):
        conn = create_connection(kind)
        loop = conn.ioloop
        if kind == "asyncio":
            _run_until_closed(conn, loop.run_forever, loop.stop)
            loop.close()
        else:
            _run_until_closed(conn, loop.start, loop.stop)
    try:
        import pika.adapters.blocking_connection  # noqa: F401
    except ImportError:
        print("blocking adapter not available", flush=True)
        return
    blocking = create_connection("blocking")
    print(f"BlockingConnection open: {blocking.is_open}", flush=True)
    blocking.close()


def poller_epilogue(namespace: dict[str, Any]) -> None:
    """Show the poller the seed's override selected, then use the connection."""
    conn = namespace["connection"]
    print(f"ioloop: {conn.ioloop!r}", flush=True)
    conn.add_on_open_callback(lambda c: print("opened", flush=True))
    _run_until_closed(conn, conn.ioloop.start, conn.ioloop.stop)


EPILOGUES: dict[str, Callable[[dict[str, Any]], None]] = {
    "factory": factory_epilogue,
    "poller": poller_epilogue,
}


def main(argv: list[str]) -> None:
    port, path = int(argv[1]), argv[2]
    epilogue = EPILOGUES[argv[3]] if len(argv) > 3 else None
    import pika.connection

    pika.connection.Parameters.DEFAULT_PORT = port
    sys.argv = [path]
    namespace = runpy.run_path(path, run_name="__main__")
    if epilogue is not None:
        epilogue(namespace)


if __name__ == "__main__":
    main(sys.argv)
