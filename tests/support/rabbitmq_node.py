"""Private RabbitMQ nodes for the test suite: single nodes and small clusters.

How it works: every node gets a fresh temporary directory that is also its
HOME, so its Erlang cookie, data, logs, config and pid file are private and
nothing under /etc or /var/lib/rabbitmq is read or written. Both TCP ports
(AMQP and Erlang distribution) are chosen here and bind-tested, because the
defaults (5672, AMQP port + 20000) clash with other nodes; a node that still
dies with ``eaddrinuse`` is relaunched on new ports.

The server runs in its own session, so Ctrl-C in a terminal reaches the test
process (which then stops the node) rather than the broker, and under
``setpriv --pdeathsig TERM``, so a test process killed outright takes its
node down with it. ``stop()`` escalates from ``rabbitmqctl stop`` to SIGTERM
to SIGKILL, then deletes the directory.

Run as a program it starts a node around a command (used by scripts/demo):
``python -m tests.support.rabbitmq_node -- python examples/demo.py {url}``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tls_certs import TlsFiles

LOG = logging.getLogger(__name__)

BIN_DIR = Path(os.environ.get("PIKA_TEST_RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin"))
HOST = "127.0.0.1"
NODE_HOST = "localhost"  # node names are short: NAME@localhost
GUEST = ("guest", "guest")

# Below Linux's ephemeral range (32768+), so outgoing sockets never hold them.
_PORT_RANGE = (20000, 32000)
_WELL_KNOWN_PORTS = frozenset({25672, 15672, 4369})
_LAUNCH_ATTEMPTS = 3
_MEMORY_WATERMARK_ON = "0.000001"
_MEMORY_WATERMARK_OFF = "0.4"


class BrokerUnavailable(RuntimeError):
    """A private node cannot be started here (not installed, or it failed to boot)."""


class CtlError(RuntimeError):
    """A RabbitMQ CLI command failed or timed out."""


class _PortClash(Exception):
    """The node exited at boot because a port was taken meanwhile."""


def server_path() -> Path:
    """Path of the rabbitmq-server start script used for private nodes."""
    return BIN_DIR / "rabbitmq-server"


def is_installed() -> bool:
    """True when rabbitmq-server and its CLI tools are present."""
    return all(os.access(BIN_DIR / tool, os.X_OK) for tool in ("rabbitmq-server", "rabbitmqctl"))


def port_is_free(port: int) -> bool:
    """True when *port* can be bound on all IPv4 interfaces right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(exclude: Iterable[int] = ()) -> int:
    """Pick a random free TCP port outside the ephemeral range."""
    taken = set(exclude) | _WELL_KNOWN_PORTS
    for _ in range(500):
        port = random.randrange(*_PORT_RANGE)
        if port not in taken and port_is_free(port):
            return port
    raise BrokerUnavailable(f"no free TCP port found in {_PORT_RANGE}")


def wait_for_port(host: str, port: int, deadline: float) -> None:
    """Poll until a TCP connect to host:port succeeds, or raise at *deadline*."""
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"nothing accepts connections on {host}:{port}") from exc
        time.sleep(0.1)


def new_cookie() -> str:
    """A random Erlang cookie (upper-case letters, as Erlang generates them)."""
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(20))


class RabbitNode:
    """One private RabbitMQ node; use ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        name: str | None = None,
        *,
        tls: bool = False,
        cookie: str | None = None,
        extra_config: Sequence[str] = (),
        start_timeout: float = 120.0,
    ) -> None:
        self.name = name or f"pika-test-{secrets.token_hex(4)}"
        self.nodename = f"{self.name}@{NODE_HOST}"
        self.host = HOST
        self.port = 0
        self.dist_port = 0
        self.tls_port: int | None = None
        self.tls_enabled = tls
        self.tls: TlsFiles | None = None
        self.cookie = cookie or new_cookie()
        self.extra_config = tuple(extra_config)
        self.start_timeout = start_timeout
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"<RabbitNode {self.nodename} amqp={self.port} dist={self.dist_port}>"

    def __enter__(self) -> RabbitNode:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """AMQP URL of the plain listener (guest account, default vhost)."""
        return f"amqp://{GUEST[0]}:{GUEST[1]}@{self.host}:{self.port}/%2F"

    @property
    def tls_url(self) -> str:
        """AMQPS URL of the TLS listener (no client certificate options)."""
        if self.tls_port is None:
            raise RuntimeError(f"{self.nodename} has no TLS listener")
        return f"amqps://{GUEST[0]}:{GUEST[1]}@localhost:{self.tls_port}/%2F"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Launch the node and wait until it accepts AMQP connections."""
        try:
            self.launch()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start the server process without waiting (see ``wait_ready``)."""
        if not is_installed():
            raise BrokerUnavailable(
                f"rabbitmq-server not found in {BIN_DIR}; install Debian's rabbitmq-server "
                "(bash scripts/setup) or set PIKA_TEST_BROKER_URL to an existing broker"
            )
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
            _LIVE.add(self)
        if not self.port:  # a restarted node keeps its ports, so client URLs stay valid
            self._choose_ports()
        self._write_files()
        self._spawn()

    def wait_ready(self) -> None:
        """Block until the node is booted and its listeners accept connections."""
        deadline = time.monotonic() + self.start_timeout
        for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
            try:
                self._await_boot(deadline)
                break
            except _PortClash:
                LOG.warning("%s: port taken at boot (attempt %d), relaunching", self, attempt)
                self._halt_process()
                if attempt == _LAUNCH_ATTEMPTS:
                    raise BrokerUnavailable(f"{self.nodename}: ports kept clashing") from None
                self._choose_ports()
                self.launch()
        if self.tls is not None:
            self._add_external_user(self.tls.client_cn)

    def stop(self, *, keep_dir: bool = False) -> None:
        """Stop the node (gracefully, then by force) and delete its directory."""
        try:
            self._halt_process()
        finally:
            if not keep_dir and self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
                _LIVE.discard(self)

    def restart(self) -> None:
        """Stop the whole node and start it again with the same ports, name and data."""
        self.stop(keep_dir=True)
        self.start()

    def stop_app(self) -> None:
        """Stop the RabbitMQ application; the Erlang VM keeps running."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """Start the application again and wait for its listeners."""
        self.ctl("start_app")
        self._await_boot(time.monotonic() + self.start_timeout)

    def restart_app(self) -> None:
        """Broker restart without a new process: every connection is dropped."""
        self.stop_app()
        self.start_app()

    # -- CLI -----------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n NODE ARGS``; return stdout, raise CtlError on failure."""
        return self._cli("rabbitmqctl", args, timeout)

    def diagnostics(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmq-diagnostics -n NODE ARGS``; return stdout."""
        return self._cli("rabbitmq-diagnostics", args, timeout)

    def ctl_json(self, *args: str, timeout: float = 60.0) -> Any:
        """Run a rabbitmqctl command with ``--formatter json`` and parse the result."""
        out = self.ctl(*args, "--formatter", "json", timeout=timeout).strip()
        return json.loads(out) if out else []

    # -- helpers for tests -----------------------------------------------------------

    def list_connections(self) -> list[dict[str, Any]]:
        """pid, name, user, vhost and client properties (a dict) of every AMQP connection."""
        columns = ("name", "user", "vhost", "client_properties")
        rows: list[dict[str, Any]] = self.ctl_json("list_connections", *columns)
        # JSON renders pids in a form close_connection rejects; the table form is usable.
        table = self.ctl("list_connections", "name", "pid", "-q", "--no-table-headers")
        pids = dict(line.split("\t", 1) for line in table.splitlines() if "\t" in line)
        for row in rows:
            row["client_properties"] = _table_to_dict(row.get("client_properties"))
            row["pid"] = pids.get(row["name"], "")
        return [row for row in rows if row["pid"]]

    def close_connection(self, pid: str, reason: str = "closed by test") -> None:
        """Broker-initiated close (320 CONNECTION_FORCED) of one connection by pid."""
        self.ctl("close_connection", pid, reason)

    def close_connection_named(self, connection_name: str, reason: str = "closed by test") -> int:
        """Close every connection whose client-provided connection_name matches; count them."""
        closed = 0
        for row in self.list_connections():
            if row["client_properties"].get("connection_name") == connection_name:
                self.close_connection(row["pid"], reason)
                closed += 1
        return closed

    def close_all_connections(self, reason: str = "closed by test") -> None:
        """Broker-initiated close of every connection on this node."""
        self.ctl("close_all_connections", "--global", reason)

    def set_memory_alarm(self, on: bool, timeout: float = 30.0) -> None:
        """Raise or clear the memory alarm (publishers get connection.blocked)."""
        watermark = _MEMORY_WATERMARK_ON if on else _MEMORY_WATERMARK_OFF
        self.ctl("set_vm_memory_high_watermark", watermark)
        deadline = time.monotonic() + timeout
        while self.memory_alarm_active() != on:
            if time.monotonic() > deadline:
                raise CtlError(f"{self.nodename}: memory alarm did not become {on}")
            time.sleep(0.1)

    def memory_alarm_active(self) -> bool:
        """True while this node has a memory alarm in effect."""
        report = json.loads(self.diagnostics("alarms", "--formatter", "json"))
        return any("memory" in str(alarm).lower() for alarm in report.get("local", []))

    def list_queues(self, vhost: str = "/") -> list[dict[str, Any]]:
        """name, messages, consumers, type, durable and auto_delete of every queue."""
        columns = ("name", "messages", "consumers", "type", "durable", "auto_delete")
        queues: list[dict[str, Any]] = self.ctl_json("list_queues", "-p", vhost, *columns)
        return queues

    def add_user(self, user: str, password: str, tags: Sequence[str] = ()) -> None:
        """Create a user (and set its tags)."""
        self.ctl("add_user", user, password)
        if tags:
            self.ctl("set_user_tags", user, *tags)

    def delete_user(self, user: str) -> None:
        """Delete a user."""
        self.ctl("delete_user", user)

    def set_permissions(
        self,
        user: str,
        vhost: str = "/",
        configure: str = ".*",
        write: str = ".*",
        read: str = ".*",
    ) -> None:
        """Grant configure/write/read permissions on *vhost*."""
        self.ctl("set_permissions", "-p", vhost, user, configure, write, read)

    def add_vhost(self, vhost: str) -> None:
        """Create a virtual host."""
        self.ctl("add_vhost", vhost)

    def delete_vhost(self, vhost: str) -> None:
        """Delete a virtual host and everything in it."""
        self.ctl("delete_vhost", vhost)

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of the server's console output (for error messages)."""
        if self.dir is None:
            return ""
        path = self.dir / "out.log"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals -------------------------------------------------------------------

    def _home(self) -> Path:
        if self.dir is None:
            raise RuntimeError(f"{self.nodename} has not been launched")
        return self.dir

    def _env(self) -> dict[str, str]:
        home = self._home()
        env = {k: v for k, v in os.environ.items() if not _foreign_setting(k)}
        env.update(
            HOME=str(home),
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(home / "mnesia"),
            RABBITMQ_LOG_BASE=str(home / "log"),
            RABBITMQ_CONFIG_FILE=str(home / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(home / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(home / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(home / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(home / "pid"),
        )
        return env

    def _choose_ports(self) -> None:
        self.port = free_port()
        self.dist_port = free_port({self.port})
        if self.tls_enabled:
            self.tls_port = free_port({self.port, self.dist_port})

    def _write_files(self) -> None:
        home = self._home()
        cookie = home / ".erlang.cookie"
        if not cookie.exists():  # the directory is 0700, so no one else reads it meanwhile
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (home / "rabbitmq-env.conf").write_text("")
        plugins = "[rabbitmq_auth_mechanism_ssl]." if self.tls_enabled else "[]."
        (home / "enabled_plugins").write_text(plugins + "\n")
        if self.tls_enabled and self.tls is None:
            from .tls_certs import generate

            self.tls = generate(home / "tls")
        (home / "rabbitmq.conf").write_text("\n".join(self._config_lines()) + "\n")

    def _config_lines(self) -> list[str]:
        lines = [f"listeners.tcp.default = {HOST}:{self.port}", "loopback_users = none"]
        if self.tls is not None:
            lines += [
                f"listeners.ssl.default = {HOST}:{self.tls_port}",
                f"ssl_options.cacertfile = {self.tls.ca_cert}",
                f"ssl_options.certfile = {self.tls.server_cert}",
                f"ssl_options.keyfile = {self.tls.server_key}",
                "ssl_options.verify = verify_peer",
                "ssl_options.fail_if_no_peer_cert = false",
                "auth_mechanisms.1 = PLAIN",
                "auth_mechanisms.2 = AMQPLAIN",
                "auth_mechanisms.3 = EXTERNAL",
                "ssl_cert_login_from = common_name",
            ]
        return lines + list(self.extra_config)

    def _spawn(self) -> None:
        home = self._home()
        argv = [str(server_path())]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            # Dies with the thread that launched it, so keep launches on the main thread.
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        if self._out is not None:
            self._out.close()
        self._out = open(home / "out.log", "ab")  # noqa: SIM115 - lives as long as the node
        self._proc = subprocess.Popen(
            argv,
            env=self._env(),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        LOG.info("launched %r in %s", self, home)

    def _await_boot(self, deadline: float) -> None:
        while True:
            self._check_process()
            with contextlib.suppress(CtlError):
                self.ctl("await_startup", "--timeout", "2", timeout=30)
                break
            if time.monotonic() > deadline:
                raise BrokerUnavailable(self._failure("did not finish booting"))
            time.sleep(0.2)
        wait_for_port(self.host, self.port, deadline)
        if self.tls_port is not None:
            wait_for_port(self.host, self.tls_port, deadline)

    def _cli(self, tool: str, args: Sequence[str], timeout: float) -> str:
        argv = [str(BIN_DIR / tool), "-n", self.nodename, *args]
        what = f"{tool} {' '.join(args)} on {self.nodename}"
        try:
            done = subprocess.run(
                argv,
                env=self._env(),
                cwd=self._home(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CtlError(f"{what} timed out after {timeout:g} s") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise CtlError(f"{what} failed with status {done.returncode}: {output}")
        return done.stdout.decode(errors="replace")

    def _check_process(self) -> None:
        if self._proc is None or self._proc.poll() is None:
            return
        tail = self.log_tail(400)
        if "eaddrinuse" in tail:
            raise _PortClash
        raise BrokerUnavailable(self._failure(f"exited with status {self._proc.returncode}"))

    def _failure(self, what: str) -> str:
        return f"RabbitMQ node {self.nodename} {what}; last output:\n{self.log_tail()}"

    def _add_external_user(self, common_name: str) -> None:
        # EXTERNAL logs in as the certificate's CN; the password is never used.
        users = {row["user"] for row in self.ctl_json("list_users")}
        if common_name not in users:
            self.ctl("add_user", common_name, secrets.token_hex(16))
            self.ctl("clear_password", common_name)
        self.set_permissions(common_name)

    def _halt_process(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                self.ctl("stop", timeout=60)
            except Exception as exc:  # escalate below whatever went wrong
                LOG.warning("%s: rabbitmqctl stop failed: %s", self, exc)
            _wait_quietly(proc, 30)
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the start script forwards SIGTERM as a clean stop
            _wait_quietly(proc, 20)
        if proc is not None and proc.poll() is None:
            LOG.warning("%s: killing process group %d", self, proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _wait_quietly(proc, 10)
        self._kill_stray_vm()
        self._proc = None
        if self._out is not None:
            self._out.close()
            self._out = None

    def _kill_stray_vm(self) -> None:
        """Last resort: the VM named in our pid file outlived its start script."""
        if self.dir is None:
            return
        try:
            pid = int((self.dir / "pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if self.nodename.encode() in cmdline:
            LOG.warning("%s: killing leftover Erlang VM %d", self, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class RabbitCluster:
    """Several private nodes sharing a cookie, joined to the first one."""

    def __init__(self, size: int = 3, *, prefix: str | None = None) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one node, not {size}")
        base = prefix or f"pika-cluster-{secrets.token_hex(3)}"
        cookie = new_cookie()
        self.nodes = [RabbitNode(f"{base}-{i}", cookie=cookie) for i in range(1, size + 1)]

    def __enter__(self) -> RabbitCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def urls(self) -> list[str]:
        """AMQP URLs of every node, first node first."""
        return [node.url for node in self.nodes]

    def start(self) -> None:
        """Boot every node (in parallel), then join nodes 2..N to node 1."""
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready()
            for node in self.nodes[1:]:
                node.stop_app()
                node.ctl("join_cluster", self.nodes[0].nodename)
                node.start_app()
        except BaseException:
            self.stop()
            raise

    def running_nodes(self, via: int = 0) -> list[str]:
        """Node names the cluster reports as running, asked through node *via*."""
        status = self.nodes[via].ctl_json("cluster_status")
        running: list[str] = status.get("running_nodes", [])
        return running

    def stop(self) -> None:
        """Stop every node, last one first; the first error is re-raised at the end."""
        errors: list[BaseException] = []
        for node in reversed(self.nodes):
            try:
                node.stop()
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


def _foreign_setting(name: str) -> bool:
    """Environment variables that would reconfigure a private node behind our back."""
    return name.startswith("RABBITMQ_") or name in {"ERL_FLAGS", "ERL_AFLAGS", "ERL_ZFLAGS"}


def _table_to_dict(value: Any) -> dict[str, Any]:
    """rabbitmqctl's JSON renders AMQP tables as [key, type, value] triples."""
    if isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for item in value or ():
        if isinstance(item, list) and len(item) == 3:
            key, kind, inner = item
            result[key] = _table_to_dict(inner) if kind == "table" else inner
    return result


def _wait_quietly(proc: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


_LIVE: set[RabbitNode] = set()


@atexit.register
def _stop_leftover_nodes() -> None:
    """Safety net for nodes whose owner never called stop() (e.g. an interrupted run)."""
    for node in list(_LIVE):
        with contextlib.suppress(Exception):
            node.stop()


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start a private RabbitMQ node, run COMMAND ({url} is replaced), stop it."
    )
    parser.add_argument("--tls", action="store_true", help="also open a TLS listener")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for signum in (signal.SIGTERM, signal.SIGHUP):  # stop the node cleanly on these too
        signal.signal(signum, _interrupt)
    print("starting a private RabbitMQ node ...", file=sys.stderr, flush=True)
    with RabbitNode(tls=args.tls) as node:
        print(f"node {node.nodename} ready at {node.url}", file=sys.stderr, flush=True)
        if not command:
            print(node.url, flush=True)
            print("serving until stdin closes or Ctrl-C", file=sys.stderr, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                sys.stdin.read()
            return 0
        final = [part.replace("{url}", node.url) for part in command]
        return subprocess.call(final)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(_main())
