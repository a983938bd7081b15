"""Run Twisted integration scenarios against the real broker, one subprocess each.

Twisted's reactor cannot be restarted within a process, so every test runs its
scenario (an ``async def`` taking a ``Context``) in a fresh interpreter with a
real reactor.  The pytest side starts the process, answers the scenario's
admin requests (``await ctx.request("close_connections", name)``, served with
rabbitmqctl through the ``broker`` fixture) and fails with the scenario's
traceback.  Every wait is bounded: the scenario by ``SCENARIO_TIMEOUT`` inside
the process, the process by ``PROCESS_TIMEOUT`` outside.

A scenario also fails if Twisted logged an error it had to handle itself (an
unhandled error in a Deferred, an exception escaping a protocol method).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import json
import os
import selectors
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.conftest import Broker, TlsBroker

ROOT = Path(__file__).resolve().parents[3]
ENV = "PIKA_TWISTED_SCENARIO"
SCENARIO_TIMEOUT = 40.0
PROCESS_TIMEOUT = 100.0
REQUEST = "@@request "
RESULT = "@@result "

Scenario = Callable[["Context"], Awaitable[None]]


# -- pytest side ------------------------------------------------------------------------


def scenario(fn: Scenario | None = None, *, tls: bool = False) -> Any:
    """Turn ``async def test_x(ctx)`` into a pytest test running it in a subprocess."""
    if fn is None:
        return functools.partial(scenario, tls=tls)
    path, name = fn.__code__.co_filename, fn.__name__

    if tls:

        def test(broker: Broker, tls_broker: TlsBroker) -> None:
            run_scenario(path, name, broker, tls_broker)

    else:

        def test(broker: Broker) -> None:  # type: ignore[misc]
            run_scenario(path, name, broker, None)

    test.__name__ = test.__qualname__ = name
    test.__doc__ = fn.__doc__
    test._scenario = fn  # type: ignore[attr-defined]
    return test


def run_scenario(path: str, name: str, broker: Broker, tls_broker: TlsBroker | None) -> None:
    config = _config(broker, tls_broker)
    argv = [sys.executable, "-m", "tests.integration.twisted.twisted_harness", path, name]
    env = dict(os.environ, **{ENV: json.dumps(config)})
    with subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        output, result = _converse(proc, broker)
    if result is None:
        pytest.fail(f"scenario {name} gave no result (exit {proc.returncode}):\n{output}")
    if result["status"] != "ok":
        pytest.fail(f"scenario {name} failed:\n{result['traceback']}\n--- output ---\n{output}")


def _config(broker: Broker, tls_broker: TlsBroker | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": broker.host,
        "port": broker.port,
        "vhost": broker.vhost,
        "username": broker.username,
        "password": broker.password,
    }
    if tls_broker is not None:
        config["tls"] = {
            "host": tls_broker.host,
            "port": tls_broker.port,
            "server_hostname": tls_broker.server_hostname,
            "ca_cert": str(tls_broker.ca_cert),
        }
    return config


def _converse(proc: subprocess.Popen[str], broker: Broker) -> tuple[str, dict[str, Any] | None]:
    """Relay admin requests until the process ends; return its output and result."""
    assert proc.stdout is not None and proc.stdin is not None
    deadline = time.monotonic() + PROCESS_TIMEOUT
    lines: list[str] = []
    result = None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                pytest.fail(f"scenario process timed out:\n{''.join(lines)}")
            if not selector.select(remaining):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(REQUEST):
                answer = _serve(broker, json.loads(line[len(REQUEST) :]))
                proc.stdin.write(json.dumps(answer) + "\n")
                proc.stdin.flush()
            elif line.startswith(RESULT):
                result = json.loads(line[len(RESULT) :])
            else:
                lines.append(line)
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    return "".join(lines), result


def _serve(broker: Broker, request: list[Any]) -> Any:
    action, args = request
    node = broker.require_node()
    if action == "close_connections":  # broker-initiated close (320) by connection_name
        return node.close_connection_named(args[0], args[1] if len(args) > 1 else "closed by test")
    if action == "queue_names":
        return [row["name"] for row in node.list_queues(broker.vhost)]
    if action == "restart_app":  # the broker application stops, then starts again
        node.stop_app()
        node.start_app()
        return True
    raise ValueError(f"unknown request {action!r}")


def run_script(path: Path, broker: Broker) -> subprocess.CompletedProcess[str]:
    """Run a Twisted program as written, with the test broker as pika's default broker."""
    argv = [
        sys.executable,
        "-m",
        "tests.integration.twisted.twisted_harness",
        "--script",
        str(path),
    ]
    env = dict(os.environ, **{ENV: json.dumps(_config(broker, None))})
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


# -- scenario side (the subprocess) -------------------------------------------------------


def _script_main(path: str) -> None:
    """Make the test broker pika's default (port, login, vhost), then run ``path``."""
    import runpy

    import pika
    from pika.connection import Parameters

    config = json.loads(os.environ[ENV])
    Parameters.DEFAULT_PORT = config["port"]
    Parameters.DEFAULT_VIRTUAL_HOST = config["vhost"]
    Parameters.DEFAULT_CREDENTIALS = pika.PlainCredentials(config["username"], config["password"])
    runpy.run_path(path, run_name="__main__")


class Context:
    """What a scenario gets: the reactor, the broker and helpers that clean up after it."""

    def __init__(self, reactor: Any, config: dict[str, Any]) -> None:
        self.reactor = reactor
        self.config = config
        self.host: str = config["host"]
        self.port: int = config["port"]
        self.connections: list[Any] = []

    def params(self, **overrides: Any) -> Any:
        """ConnectionParameters for the plain listener (keyword arguments override)."""
        import pika

        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "virtual_host": self.config["vhost"],
            "credentials": pika.PlainCredentials(self.config["username"], self.config["password"]),
        }
        options.update(overrides)
        return pika.ConnectionParameters(**options)

    def tls_params(self, **overrides: Any) -> Any:
        """ConnectionParameters for the TLS listener, trusting the test CA."""
        import ssl

        import pika

        tls = self.config["tls"]
        context = ssl.create_default_context(cafile=tls["ca_cert"])
        options = {
            "host": tls["host"],
            "port": tls["port"],
            "ssl_options": pika.SSLOptions(context, tls["server_hostname"]),
        }
        options.update(overrides)
        return self.params(**options)

    def name(self, prefix: str = "tw") -> str:
        """A unique name for a queue or exchange."""
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    async def connect(
        self, params: Any = None, host: str | None = None, port: int | None = None
    ) -> Any:
        """Connect with Twisted's ClientCreator; returns the ready protocol (closed at the end)."""
        from twisted.internet import protocol

        from pika.adapters.twisted_connection import TwistedProtocolConnection

        creator = protocol.ClientCreator(
            self.reactor, TwistedProtocolConnection, params or self.params()
        )
        conn = await creator.connectTCP(host or self.host, port or self.port)
        self.connections.append(conn)
        await self.wait(conn.ready)
        return conn

    async def wait(self, deferred: Any, timeout: float = 20.0) -> Any:
        """Await a Deferred, failing with TimeoutError after ``timeout`` seconds."""
        return await deferred.addTimeout(timeout, self.reactor)

    async def request(self, action: str, *args: Any) -> Any:
        """Ask the pytest process to do something to the broker; returns its answer."""
        from twisted.internet import threads

        print(REQUEST + json.dumps([action, list(args)]), flush=True)
        line = await self.wait(threads.deferToThread(sys.stdin.readline), 60.0)
        return json.loads(line)

    async def close_all(self) -> None:
        for conn in self.connections:
            if conn.is_open:
                closed = conn.close()
                if closed is not None:
                    await self.wait(closed)


def _load(path: str, name: str) -> Scenario:
    spec = importlib.util.spec_from_file_location(f"_scenario_{Path(path).stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn: Scenario = getattr(module, name)._scenario
    return fn


@contextlib.contextmanager
def _twisted_errors() -> Iterator[list[str]]:
    """Collect errors Twisted logs (unhandled Deferred failures, protocol exceptions)."""
    from twisted.logger import LogLevel, formatEvent, globalLogBeginner, globalLogPublisher

    errors: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_failure") is not None or event.get("log_level") in (
            LogLevel.error,
            LogLevel.critical,
        ):
            failure = event.get("log_failure")
            detail = failure.getTraceback() if failure is not None else ""
            errors.append(f"{formatEvent(event)}\n{detail}")

    globalLogBeginner.beginLoggingTo([], discardBuffer=True, redirectStandardIO=False)
    globalLogPublisher.addObserver(observe)
    try:
        yield errors
    finally:
        globalLogPublisher.removeObserver(observe)


def main() -> None:
    import logging

    from twisted.internet import defer, reactor

    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s"
    )
    path, name = sys.argv[1:3]
    config = json.loads(os.environ[ENV])
    fn = _load(path, name)
    ctx = Context(reactor, config)
    outcome: dict[str, Any] = {}

    async def run() -> None:
        try:
            await defer.ensureDeferred(fn(ctx)).addTimeout(SCENARIO_TIMEOUT, reactor)
        finally:
            await ctx.close_all()

    def finished(result: Any) -> None:
        if isinstance(result, defer.Failure):
            outcome["traceback"] = result.getTraceback()
        reactor.stop()

    with _twisted_errors() as errors:
        reactor.callWhenRunning(lambda: defer.ensureDeferred(run()).addBoth(finished))
        reactor.run()
        ctx.connections.clear()
        gc.collect()  # report Deferreds that died holding a failure
    if "traceback" not in outcome and errors:
        outcome["traceback"] = "Twisted logged errors:\n" + "\n".join(errors)
    status = "failed" if "traceback" in outcome else "ok"
    print(RESULT + json.dumps({"status": status, **outcome}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--script":
        _script_main(sys.argv[2])
        sys.exit(0)
    try:
        main()
    except BaseException:
        print(RESULT + json.dumps({"status": "failed", "traceback": traceback.format_exc()}))
        raise
