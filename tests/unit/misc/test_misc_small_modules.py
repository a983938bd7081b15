"""exchange_type, delivery_mode, validators, tcp_socket_opts, diagnostic_utils,
_utils and compat (API.md §11, §13)."""

from __future__ import annotations

import abc
import enum
import io
import logging
import select
import socket
import time
from typing import Any
from unittest import mock

import pytest

from pika import _utils, compat, diagnostic_utils, tcp_socket_opts, validators
from pika.delivery_mode import DeliveryMode
from pika.exchange_type import ExchangeType

# --- ExchangeType / DeliveryMode ------------------------------------------------------


def test_exchange_type_members_are_strings() -> None:
    assert [member.value for member in ExchangeType] == ["direct", "fanout", "headers", "topic"]
    for member in ExchangeType:
        assert isinstance(member, str)
        assert member == member.value
        assert member.name == member.value
    assert ExchangeType("topic") is ExchangeType.topic
    assert {"direct": 1}[ExchangeType.direct] == 1
    assert ExchangeType.fanout.encode() == b"fanout"


def test_delivery_mode_is_an_int_enum() -> None:
    assert issubclass(DeliveryMode, enum.IntEnum)
    assert DeliveryMode.Transient == 1
    assert DeliveryMode.Persistent == 2
    assert DeliveryMode(2) is DeliveryMode.Persistent
    assert int(DeliveryMode.Persistent) == 2
    assert [m.name for m in DeliveryMode] == ["Transient", "Persistent"]


# --- validators -----------------------------------------------------------------------


def test_require_string() -> None:
    validators.require_string("x", "queue")
    validators.require_string("", "queue")
    with pytest.raises(TypeError, match="queue must be a str, but got 5"):
        validators.require_string(5, "queue")
    with pytest.raises(TypeError):
        validators.require_string(b"x", "queue")


def test_require_callback() -> None:
    validators.require_callback(print)
    validators.require_callback(lambda: None, "on_done")
    with pytest.raises(TypeError, match="on_done"):
        validators.require_callback(None, "on_done")
    with pytest.raises(TypeError, match="callback"):
        validators.require_callback("not callable")


def test_rpc_completion_callback() -> None:
    assert validators.rpc_completion_callback(None) is True
    assert validators.rpc_completion_callback(print) is False
    with pytest.raises(TypeError, match="completion callback must be callable"):
        validators.rpc_completion_callback(5)  # type: ignore[arg-type]


def test_zero_or_greater() -> None:
    validators.zero_or_greater("prefetch_count", 0)
    validators.zero_or_greater("prefetch_count", "7")
    validators.zero_or_greater("prefetch_count", 1.9)
    with pytest.raises(ValueError, match="prefetch_count must be >= 0"):
        validators.zero_or_greater("prefetch_count", -1)
    with pytest.raises(ValueError):
        validators.zero_or_greater("prefetch_count", "-3")


# --- tcp_socket_opts ------------------------------------------------------------------


def test_supported_options_use_platform_constants() -> None:
    supported = tcp_socket_opts._SUPPORTED_TCP_OPTIONS
    assert set(supported) <= {"TCP_USER_TIMEOUT", "TCP_KEEPIDLE", "TCP_KEEPCNT", "TCP_KEEPINTVL"}
    for name, value in supported.items():
        if hasattr(socket, name):
            assert value == getattr(socket, name)
    if _utils.ON_LINUX:
        assert supported["TCP_USER_TIMEOUT"] == 18
        assert set(supported) == {
            "TCP_USER_TIMEOUT",
            "TCP_KEEPIDLE",
            "TCP_KEEPCNT",
            "TCP_KEEPINTVL",
        }


def test_linux_user_timeout_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "TCP_USER_TIMEOUT", raising=False)
    monkeypatch.setattr(tcp_socket_opts, "LINUX_VERSION", (4, 19, 0))
    assert tcp_socket_opts._supported_options()["TCP_USER_TIMEOUT"] == 18
    monkeypatch.setattr(tcp_socket_opts, "LINUX_VERSION", (2, 6, 36))
    assert "TCP_USER_TIMEOUT" not in tcp_socket_opts._supported_options()
    monkeypatch.setattr(tcp_socket_opts, "LINUX_VERSION", None)
    assert "TCP_USER_TIMEOUT" not in tcp_socket_opts._supported_options()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, False),
        ({"TCP_USER_TIMEOUT": 1}, False),
        ({"TCP_KEEPIDLE": 1}, True),
        ({"TCP_KEEPINTVL": 1}, True),
        ({"TCP_KEEPCNT": 1}, True),
    ],
)
def test_socket_requires_keepalive(options: dict[str, int], expected: bool) -> None:
    assert tcp_socket_opts.socket_requires_keepalive(options) is expected


@pytest.mark.parametrize("options", [None, {}])
def test_set_sock_opts_nothing_to_do(options: dict[str, int] | None) -> None:
    sock = mock.Mock(spec=socket.socket)
    tcp_socket_opts.set_sock_opts(options, sock)
    sock.setsockopt.assert_not_called()


def test_set_sock_opts_calls(caplog: pytest.LogCaptureFixture) -> None:
    sock = mock.Mock(spec=socket.socket)
    supported = {"TCP_KEEPIDLE": 101, "TCP_USER_TIMEOUT": 102}
    with (
        mock.patch.dict(tcp_socket_opts._SUPPORTED_TCP_OPTIONS, supported, clear=True),
        caplog.at_level(logging.WARNING, logger="pika.tcp_socket_opts"),
    ):
        tcp_socket_opts.set_sock_opts(
            {"TCP_KEEPIDLE": 60, "TCP_USER_TIMEOUT": 5000, "TCP_BOGUS": 1}, sock
        )
    assert sock.setsockopt.call_args_list == [
        mock.call(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        mock.call(_utils.SOL_TCP, 101, 60),
        mock.call(_utils.SOL_TCP, 102, 5000),
    ]
    assert "Unsupported TCP option TCP_BOGUS:1" in caplog.text


def test_set_sock_opts_without_keepalive_keys() -> None:
    sock = mock.Mock(spec=socket.socket)
    with mock.patch.dict(tcp_socket_opts._SUPPORTED_TCP_OPTIONS, {"TCP_USER_TIMEOUT": 7}):
        tcp_socket_opts.set_sock_opts({"TCP_USER_TIMEOUT": 1000}, sock)
    sock.setsockopt.assert_called_once_with(_utils.SOL_TCP, 7, 1000)


@pytest.mark.skipif(not _utils.ON_LINUX, reason="reads back Linux socket options")
def test_set_sock_opts_on_a_real_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        tcp_socket_opts.set_sock_opts(
            {"TCP_KEEPIDLE": 61, "TCP_KEEPINTVL": 7, "TCP_KEEPCNT": 4, "TCP_USER_TIMEOUT": 9000},
            sock,
        )
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 61
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 7
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
        assert sock.getsockopt(socket.IPPROTO_TCP, 18) == 9000


# --- diagnostic_utils -----------------------------------------------------------------


def test_log_exception_decorator(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("pika.tests.diag")
    decorate = diagnostic_utils.create_log_exception_decorator(logger)

    @decorate
    def fails(value: int) -> int:
        raise KeyError(value)

    @decorate
    def works(value: int, *, plus: int = 0) -> int:
        return value + plus

    assert works(1, plus=2) == 3
    assert fails.__name__ == "fails"
    with caplog.at_level(logging.ERROR, logger="pika.tests.diag"), pytest.raises(KeyError) as info:
        fails(42)
    assert info.value.args == (42,)
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[1] is info.value
    assert "caller's stack" in record.getMessage()
    assert "test_log_exception_decorator" in record.getMessage()


def test_log_exception_decorator_silent_on_success(caplog: pytest.LogCaptureFixture) -> None:
    decorate = diagnostic_utils.create_log_exception_decorator(logging.getLogger("pika.x"))
    with caplog.at_level(logging.DEBUG):
        assert decorate(lambda: 5)() == 5
    assert caplog.records == []


# --- _utils ---------------------------------------------------------------------------


def test_time_now_is_monotonic() -> None:
    first = _utils.time_now()
    assert isinstance(first, float)
    assert _utils.time_now() >= first
    assert abs(_utils.time_now() - time.monotonic()) < 1.0


def test_as_bytes() -> None:
    assert _utils.as_bytes("h\u00e9") == "h\u00e9".encode()
    data = b"\xff"
    assert _utils.as_bytes(data) is data


@pytest.mark.parametrize(
    ("text", "number"), [("19", 19), ("19-generic", 19), ("0rc1", 0), ("abc", 0), ("", 0)]
)
def test_to_digit(text: str, number: int) -> None:
    assert _utils.to_digit(text) == number


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("4.19.0-18-amd64", (4, 19, 0)),
        ("6.1.55+", (6, 1, 55)),
        ("5.15.0.1.2", (5, 15, 0)),
        ("2.6", (2, 6)),
        ("5.10.102.1-microsoft-standard-WSL2", (5, 10, 102)),
    ],
)
def test_get_linux_version(release: str, version: tuple[int, ...]) -> None:
    assert _utils.get_linux_version(release) == version


def test_platform_flags() -> None:
    assert [_utils.ON_LINUX, _utils.ON_OSX, _utils.ON_WINDOWS].count(True) <= 1
    assert (_utils.LINUX_VERSION is not None) is _utils.ON_LINUX
    assert _utils.SOCKET_ERROR is OSError
    assert isinstance(_utils.SOL_TCP, int)
    assert isinstance(_utils.HAVE_SIGNAL, bool)


def test_typing_shims() -> None:
    def method() -> int:
        return 1

    assert _utils.override(method) is method

    @_utils.runtime_checkable
    class Closable(_utils.Protocol):
        def close(self) -> None: ...

    assert isinstance(io.BytesIO(), Closable)
    assert not isinstance(5, Closable)


def test_nonblocking_socketpair() -> None:
    first, second = _utils.nonblocking_socketpair()
    with first, second:
        assert first.getblocking() is False and second.getblocking() is False
        assert first.family == socket.AF_INET
        assert first.getpeername() == second.getsockname()
        with pytest.raises(BlockingIOError):
            second.recv(1)
        first.sendall(b"ping")
        readable, _, _ = select.select([second], [], [], 5.0)
        assert readable == [second]
        assert second.recv(4) == b"ping"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"family": socket.AF_INET6},
        {"socket_type": socket.SOCK_DGRAM},
        {"proto": socket.IPPROTO_TCP},
    ],
)
def test_nonblocking_socketpair_rejects_other_kinds(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="supported"):
        _utils.nonblocking_socketpair(**kwargs)


def test_nonblocking_socketpair_skips_strangers(monkeypatch: pytest.MonkeyPatch) -> None:
    stranger = mock.Mock()
    real_accept = socket.socket.accept
    calls = {"n": 0}

    def accept(self: socket.socket) -> tuple[Any, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            return stranger, ("127.0.0.1", 1)
        return real_accept(self)

    monkeypatch.setattr(socket.socket, "accept", accept)
    first, second = _utils.nonblocking_socketpair()
    with first, second:
        assert first.getpeername() == second.getsockname()
    stranger.close.assert_called_once_with()


# --- compat ---------------------------------------------------------------------------

COMPAT_144 = [
    "as_bytes",
    "byte",
    "time_now",
    "nonblocking_socketpair",
    "to_digit",
    "get_linux_version",
    "SOL_TCP",
    "SOCKET_ERROR",
    "str_or_bytes",
    "long",
    "ON_LINUX",
    "ON_OSX",
    "ON_WINDOWS",
    "HAVE_SIGNAL",
    "LINUX_VERSION",
    "AbstractBase",
]
COMPAT_132 = [
    "PY2",
    "PY3",
    "basestring",
    "unicode_type",
    "xrange",
    "StringIO",
    "dictkeys",
    "dictvalues",
    "dict_iteritems",
    "dict_itervalues",
    "is_integer",
    "canonical_str",
    "EINTR_IS_EXPOSED",
]


@pytest.mark.parametrize("name", COMPAT_144 + COMPAT_132)
def test_compat_names_exist(name: str) -> None:
    assert hasattr(compat, name)
    assert name in compat.__all__


def test_compat_values() -> None:
    assert compat.PY2 is False and compat.PY3 is True
    assert compat.EINTR_IS_EXPOSED is False
    assert compat.basestring == (str,)
    assert compat.str_or_bytes == (str, bytes)
    assert compat.unicode_type is str
    assert issubclass(compat.long, int) and compat.long(5) == 5
    assert compat.xrange is range
    assert compat.StringIO is io.StringIO
    assert compat.byte(65, 66) == b"AB"
    assert compat.byte() == b""
    assert compat.as_bytes is _utils.as_bytes
    assert compat.time_now is _utils.time_now
    assert compat.nonblocking_socketpair is _utils.nonblocking_socketpair
    assert compat.SOL_TCP == _utils.SOL_TCP
    assert compat.SOCKET_ERROR is OSError
    assert compat.LINUX_VERSION == _utils.LINUX_VERSION


def test_compat_dict_helpers() -> None:
    data = {"a": 1, "b": 2}
    assert compat.dictkeys(data) == ["a", "b"]
    assert compat.dictvalues(data) == [1, 2]
    assert list(compat.dict_iteritems(data)) == [("a", 1), ("b", 2)]
    assert list(compat.dict_itervalues(data)) == [1, 2]
    keys = compat.dictkeys(data)
    data["c"] = 3
    assert keys == ["a", "b"]


def test_compat_is_integer_and_canonical_str() -> None:
    assert compat.is_integer(5) is True
    assert compat.is_integer(5.0) is False
    assert compat.is_integer("5") is False
    assert compat.canonical_str(5) == "5"
    assert compat.canonical_str("x") == "x"


def test_compat_abstract_base() -> None:
    assert isinstance(compat.AbstractBase, abc.ABCMeta)

    class Base(compat.AbstractBase):
        @abc.abstractmethod
        def run(self) -> None: ...

    class Impl(Base):
        def run(self) -> None:
            return None

    with pytest.raises(TypeError):
        Base()  # type: ignore[abstract]
    Impl().run()


def test_compat_url_helpers() -> None:
    assert compat.url_unquote("%2F") == "/"
    assert compat.url_quote("/x y") == "/x%20y"
    assert compat.urlparse("amqp://h:1/v").port == 1
    assert compat.url_parse_qs("a=1") == {"a": ["1"]}
    assert compat.urlencode({"a": 1}) == "a=1"
