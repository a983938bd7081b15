"""``URLParameters``: connection settings read from an ``amqp://`` or ``amqps://`` URL.

``amqp://user:password@host:port/vhost?key=value&...``. The scheme decides
TLS and the default port; the first path segment, percent-decoded, is the
virtual host; every query key maps onto a validating ``Parameters`` setter.
Blank query values are ignored, unknown or repeated keys are errors.
Error messages never echo the URL: it may carry a password.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import ParseResult, parse_qs, unquote, urlparse

from pika._engine.policy import RecoveryPolicy
from pika._params.parameters import Parameters
from pika._params.ssl_options import SSLOptions
from pika.credentials import PlainCredentials

__all__ = ["URLParameters"]

# Private helpers log under the public module that re-exports them.
LOGGER = logging.getLogger("pika.connection")

_QuerySetter = Callable[["URLParameters", str], None]

_SSL_OPTION_KEYS = frozenset(
    {
        "ca_certs",
        "ca_data",
        "ca_path",
        "cadata",
        "cafile",
        "capath",
        "certfile",
        "ciphers",
        "keyfile",
        "password",
        "protocol",
        "server_hostname",
    }
)


class URLParameters(Parameters):
    """Connection settings parsed from a URL such as
    ``amqps://user:pass@host:5671/%2F?heartbeat=30&connection_attempts=3``.
    """

    __slots__ = ()

    def __init__(self, url: str) -> None:
        super().__init__()
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, but got {type(url).__name__}")
        parts, use_tls = _parse(url)
        if use_tls:
            self.ssl_options = SSLOptions(ssl.create_default_context())
        self._apply_endpoint(parts, use_tls)
        self._apply_credentials(parts)
        self._apply_virtual_host(parts.path)
        self._apply_query(parts.query)

    def _apply_endpoint(self, parts: ParseResult, use_tls: bool) -> None:
        if parts.hostname:
            self.host = parts.hostname
        try:
            port = parts.port
        except ValueError:
            # urllib's message quotes the text after ':', which may be a password.
            raise ValueError("Invalid port in URL: expected an integer 0-65535") from None
        if port is not None:
            self.port = port
        elif use_tls:
            self.port = self.DEFAULT_SSL_PORT

    def _apply_credentials(self, parts: ParseResult) -> None:
        if parts.username is None:
            return
        if parts.password is None:
            raise ValueError(
                "URL gives a username but no password; "
                "use amqp://username:password@host/ (percent-encode special characters)"
            )
        self.credentials = PlainCredentials(unquote(parts.username), unquote(parts.password))

    def _apply_virtual_host(self, path: str) -> None:
        if len(path) <= 1:
            return
        segments = path.split("/")
        if len(segments) < 2:
            raise ValueError(
                "URL has no '//' before the host; expected amqp://host/vhost or amqps://host/vhost"
            )
        self.virtual_host = unquote(segments[1])

    def _apply_query(self, query: str) -> None:
        # parse_qs drops keys whose value is blank, so '?heartbeat=' is ignored.
        for name, values in parse_qs(query).items():
            setter = _QUERY_SETTERS.get(name)
            if setter is None:
                raise ValueError(f"Unknown URL parameter: {name!r}")
            if len(values) != 1:
                raise ValueError(
                    f"Expected exactly one value for URL parameter {name!r}, but got {len(values)}"
                )
            setter(self, values[0])


def _parse(url: str) -> tuple[ParseResult, bool]:
    """Split ``url``; return the parts and whether the scheme asks for TLS."""
    # amqp/amqps become http/https so urllib parses them like web URLs
    # (case-insensitively, since urllib lowercases the scheme).
    rewritten = url[:4].lower() == "amqp"
    parts = urlparse("http" + url[4:] if rewritten else url)
    if parts.scheme == "https":
        return parts, True
    if parts.scheme == "http":
        return parts, False
    if not parts.scheme:
        raise ValueError("URL has no scheme; expected amqp://... or amqps://...")
    scheme = "amqp" + parts.scheme[4:] if rewritten else parts.scheme
    raise ValueError(f"Unexpected URL scheme {scheme!r}; supported scheme values: amqp, amqps")


def _to_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Invalid {name} value {value!r}: expected an integer") from None


def _to_float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"Invalid {name} value {value!r}: expected a number") from None


def _to_literal(name: str, value: str) -> Any:
    """Evaluate a Python literal such as a dict; never echo it (it may hold a key password)."""
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(
            f"Invalid {name} value: expected a Python literal such as a dict ({type(exc).__name__})"
        ) from None


def _int_setter(name: str) -> _QuerySetter:
    def apply(params: URLParameters, value: str) -> None:
        setattr(params, name, _to_int(name, value))

    return apply


def _float_setter(name: str) -> _QuerySetter:
    def apply(params: URLParameters, value: str) -> None:
        setattr(params, name, _to_float(name, value))

    return apply


def _literal_setter(name: str) -> _QuerySetter:
    def apply(params: URLParameters, value: str) -> None:
        setattr(params, name, _to_literal(name, value))

    return apply


_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _set_recovery(params: URLParameters, value: str) -> None:
    word = value.strip().lower()
    if word not in _TRUE_WORDS | _FALSE_WORDS:
        raise ValueError(f"recovery must be true or false in the URL, got {value!r}")
    enabled = word in _TRUE_WORDS
    if not enabled:
        params.recovery = None
    elif params.recovery is None:
        params.recovery = RecoveryPolicy()


def _recovery_setter(field: str, convert: Callable[[str, str], Any]) -> _QuerySetter:
    """``recovery_<field>``: sets one policy field (and enables recovery)."""

    def apply(params: URLParameters, value: str) -> None:
        policy = params.recovery or RecoveryPolicy()
        params.recovery = dataclasses.replace(
            policy, **{field: convert(f"recovery_{field}", value)}
        )

    return apply


def _set_locale(params: URLParameters, value: str) -> None:
    params.locale = value


def _set_ssl_options(params: URLParameters, value: str) -> None:
    options = _to_literal("ssl_options", value)
    if options is None:
        if params.ssl_options is not None:
            raise ValueError(
                "URL parameter ssl_options=None contradicts the amqps scheme; "
                "use amqp:// for a plain connection"
            )
        return
    if not isinstance(options, dict):
        raise TypeError(f"ssl_options must be a dict or None, but got {type(options).__name__}")
    params.ssl_options = ssl_options_from_dict(options)


def ssl_options_from_dict(options: dict[str, Any]) -> SSLOptions:
    """Build ``SSLOptions`` from the ``ssl_options`` dict of a URL.

    Keys: protocol, ca_certs|cafile, ca_path|capath, ca_data|cadata (at least
    one CA source), certfile, keyfile, password, ciphers, server_hostname.
    """
    unknown = sorted(set(options) - _SSL_OPTION_KEYS)
    if unknown:
        LOGGER.warning("Ignoring unsupported ssl_options keys in URL: %s", ", ".join(unknown))
    context = ssl.SSLContext(options.get("protocol", ssl.PROTOCOL_TLS_CLIENT))
    cafile = options.get("ca_certs") or options.get("cafile")
    capath = options.get("ca_path") or options.get("capath")
    cadata = options.get("ca_data") or options.get("cadata")
    if cafile is None and capath is None and cadata is None:
        raise ValueError(
            "ssl_options in the URL needs a CA to verify the broker: "
            "give ca_certs (or cafile), ca_path (or capath) or ca_data (or cadata)"
        )
    context.load_verify_locations(cafile, capath, cadata)
    if "certfile" in options:
        context.load_cert_chain(
            options["certfile"], options.get("keyfile"), options.get("password")
        )
    if "ciphers" in options:
        context.set_ciphers(options["ciphers"])
    return SSLOptions(context, server_hostname=options.get("server_hostname"))


_QUERY_SETTERS: dict[str, _QuerySetter] = {
    "blocked_connection_timeout": _float_setter("blocked_connection_timeout"),
    "channel_max": _int_setter("channel_max"),
    "client_properties": _literal_setter("client_properties"),
    "connection_attempts": _int_setter("connection_attempts"),
    "frame_max": _int_setter("frame_max"),
    "heartbeat": _int_setter("heartbeat"),
    "locale": _set_locale,
    "recovery": _set_recovery,
    "recovery_initial_delay": _recovery_setter("initial_delay", _to_float),
    "recovery_max_attempts": _recovery_setter("max_attempts", _to_int),
    "recovery_max_delay": _recovery_setter("max_delay", _to_float),
    "recovery_publish_wait_timeout": _recovery_setter("publish_wait_timeout", _to_float),
    "retry_delay": _float_setter("retry_delay"),
    "socket_timeout": _float_setter("socket_timeout"),
    "stack_timeout": _float_setter("stack_timeout"),
    "ssl_options": _set_ssl_options,
    "tcp_options": _literal_setter("tcp_options"),
}

URLParameters.__module__ = "pika.connection"
