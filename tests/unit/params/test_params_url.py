"""URLParameters: scheme, host, port, credentials, vhost and every query key (API.md §3.3)."""

from __future__ import annotations

import logging
import ssl
from typing import Any
from urllib.parse import quote

import pytest

from pika._params import Parameters, SSLOptions, URLParameters
from pika.credentials import PlainCredentials

# --- scheme -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "tls", "port"),
    [
        ("amqp://h", False, 5672),
        ("AMQP://h", False, 5672),
        ("Amqp://h", False, 5672),
        ("amqps://h", True, 5671),
        ("AMQPS://h", True, 5671),
        ("aMqPs://h", True, 5671),
        # pika rewrites only amqp*, so web schemes are accepted the same way
        ("http://h", False, 5672),
        ("https://h", True, 5671),
    ],
)
def test_scheme_selects_tls_and_default_port(url: str, tls: bool, port: int) -> None:
    params = URLParameters(url)
    assert params.port == port
    assert (params.ssl_options is not None) is tls
    assert params.host == "h"


def test_amqps_uses_a_default_verifying_context() -> None:
    options = URLParameters("amqps://h").ssl_options
    assert isinstance(options, SSLOptions)
    assert options.server_hostname is None
    assert options.context.verify_mode == ssl.CERT_REQUIRED
    assert options.context.check_hostname is True
    assert options is not URLParameters("amqps://h").ssl_options


@pytest.mark.parametrize(
    ("url", "reported"),
    [("ftp://h", "'ftp'"), ("amqpx://h", "'amqpx'"), ("AMQPX://h", "'amqpx'"), ("ws://h", "'ws'")],
)
def test_unknown_scheme(url: str, reported: str) -> None:
    with pytest.raises(ValueError) as info:
        URLParameters(url)
    message = str(info.value)
    assert message.startswith(f"Unexpected URL scheme {reported}")
    assert "supported scheme values: amqp, amqps" in message


@pytest.mark.parametrize("url", ["localhost", "", "//host/vh", "127.0.0.1:5672", "/vhost"])
def test_missing_scheme_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="no scheme"):
        URLParameters(url)


@pytest.mark.parametrize(
    "url", ["guest:s3cret@localhost", "user:s3cret@host:5672/vh", "amqp://user:s3cret"]
)
def test_errors_never_echo_the_url(url: str) -> None:
    with pytest.raises(ValueError) as info:
        URLParameters(url)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value)


@pytest.mark.parametrize("url", [None, b"amqp://h", 5])
def test_url_must_be_a_str(url: Any) -> None:
    with pytest.raises(TypeError, match="url must be a str"):
        URLParameters(url)


# --- host and port ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("amqp://", "localhost", 5672),
        ("amqps://", "localhost", 5671),
        ("amqp:///vh", "localhost", 5672),
        ("amqp://MyHost.Example.COM", "myhost.example.com", 5672),
        ("amqp://h:5673", "h", 5673),
        ("amqps://h:5673", "h", 5673),
        ("amqp://h:0", "h", 0),
        ("amqp://[::1]", "::1", 5672),
        ("amqp://[::1]:5673/", "::1", 5673),
        ("amqp://[FE80::1]:1/", "fe80::1", 1),
        ("amqp://10.0.0.1:15672", "10.0.0.1", 15672),
        ("amqp://u:p@:5673/", "localhost", 5673),
    ],
)
def test_host_and_port(url: str, host: str, port: int) -> None:
    params = URLParameters(url)
    assert (params.host, params.port) == (host, port)


@pytest.mark.parametrize("url", ["amqp://h:abc/", "amqp://h:70000/", "amqp://h:-1/"])
def test_bad_port(url: str) -> None:
    with pytest.raises(ValueError, match="Invalid port in URL"):
        URLParameters(url)


def test_bad_ipv6_literal() -> None:
    with pytest.raises(ValueError):
        URLParameters("amqp://[::1/")


# --- credentials ----------------------------------------------------------------------


def test_no_userinfo_keeps_default_credentials() -> None:
    assert URLParameters("amqp://h/").credentials == PlainCredentials("guest", "guest")


@pytest.mark.parametrize(
    ("url", "username", "password"),
    [
        ("amqp://user:pass@h", "user", "pass"),
        ("amqp://us%40er:p%3Ass%2F%25@h", "us@er", "p:ss/%"),
        ("amqp://user:@h", "user", ""),
        ("amqp://:pass@h", "", "pass"),
        ("amqp://%C3%BCser:p%C3%A4ss@h", "\u00fcser", "p\u00e4ss"),
        ("amqp://user:pa:ss@h", "user", "pa:ss"),
        ("amqp://user:pa+ss@h", "user", "pa+ss"),
    ],
)
def test_credentials_are_percent_decoded(url: str, username: str, password: str) -> None:
    params = URLParameters(url)
    assert params.credentials == PlainCredentials(username, password)
    assert params.host == "h"


@pytest.mark.parametrize("url", ["amqp://user@h/", "amqp://@h/", "amqps://admin@h:5671/vh"])
def test_username_without_password_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="username but no password"):
        URLParameters(url)


# --- virtual host ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h", "/"),
        ("amqp://h/", "/"),
        ("amqp://h/%2F", "/"),
        ("amqp://h/%2f", "/"),
        ("amqp://h/vh", "vh"),
        ("amqp://h/a/b", "a"),
        ("amqp://h/%2Fvh", "/vh"),
        ("amqp://h/v%20h", "v h"),
        ("amqp://h/v+h", "v+h"),
        ("amqp://h/vh?heartbeat=5", "vh"),
        ("amqp://h//", ""),
    ],
)
def test_virtual_host(url: str, vhost: str) -> None:
    assert URLParameters(url).virtual_host == vhost


def test_path_without_authority_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no '//'"):
        URLParameters("amqp:vhost")


# --- query keys -----------------------------------------------------------------------

# key -> (query value, attribute value)
GOOD_QUERY: list[tuple[str, str, Any]] = [
    ("blocked_connection_timeout", "30", 30.0),
    ("blocked_connection_timeout", "0.5", 0.5),
    ("channel_max", "100", 100),
    ("client_properties", "{'connection_name': 'svc'}", {"connection_name": "svc"}),
    ("connection_attempts", "5", 5),
    ("frame_max", "8192", 8192),
    ("heartbeat", "0", 0),
    ("heartbeat", "30", 30),
    ("locale", "de_DE", "de_DE"),
    ("retry_delay", "3", 3.0),
    ("retry_delay", "0.25", 0.25),
    ("socket_timeout", "1.5", 1.5),
    ("stack_timeout", "20", 20.0),
    ("tcp_options", "{'TCP_KEEPIDLE': 60}", {"TCP_KEEPIDLE": 60}),
]


@pytest.mark.parametrize(("key", "raw", "value"), GOOD_QUERY)
def test_good_query_value(key: str, raw: str, value: Any) -> None:
    params = URLParameters(f"amqp://h/?{key}={quote(raw)}")
    assert getattr(params, key) == value
    assert type(getattr(params, key)) is type(value)


def test_all_keys_together() -> None:
    last = {key: (raw, value) for key, raw, value in GOOD_QUERY}
    query = "&".join(f"{key}={quote(raw)}" for key, (raw, _) in last.items())
    params = URLParameters(f"amqp://h/?{query}")
    for key, (_, value) in last.items():
        assert getattr(params, key) == value, key


# key -> (bad value, error class, message fragment)
BAD_QUERY: list[tuple[str, str, type[Exception], str]] = [
    ("blocked_connection_timeout", "soon", ValueError, "Invalid blocked_connection_timeout"),
    ("blocked_connection_timeout", "-1", ValueError, "blocked_connection_timeout must be >= 0"),
    ("channel_max", "lots", ValueError, "Invalid channel_max value"),
    ("channel_max", "1.5", ValueError, "Invalid channel_max value"),
    ("channel_max", "0", ValueError, "channel_max must be"),
    ("channel_max", "65536", ValueError, "channel_max must be"),
    ("client_properties", "{'a':", ValueError, "Invalid client_properties value"),
    ("client_properties", "os.system('x')", ValueError, "Invalid client_properties value"),
    ("client_properties", "[1, 2]", TypeError, "client_properties must be a dict"),
    ("connection_attempts", "x", ValueError, "Invalid connection_attempts value"),
    ("connection_attempts", "0", ValueError, "connection_attempts must be"),
    ("frame_max", "big", ValueError, "Invalid frame_max value"),
    ("frame_max", "4096", ValueError, "frame_max must be"),
    ("frame_max", "131073", ValueError, "frame_max must be"),
    ("heartbeat", "often", ValueError, "Invalid heartbeat value"),
    ("heartbeat", "1.5", ValueError, "Invalid heartbeat value"),
    ("heartbeat", "-1", ValueError, "heartbeat must be >= 0"),
    ("retry_delay", "later", ValueError, "Invalid retry_delay value"),
    ("socket_timeout", "x", ValueError, "Invalid socket_timeout value"),
    ("socket_timeout", "0", ValueError, "socket_timeout must be > 0"),
    ("socket_timeout", "nan", ValueError, "socket_timeout must be > 0"),
    ("stack_timeout", "x", ValueError, "Invalid stack_timeout value"),
    ("stack_timeout", "-5", ValueError, "stack_timeout must be > 0"),
    ("tcp_options", "{1:", ValueError, "Invalid tcp_options value"),
    ("tcp_options", "'TCP_KEEPIDLE'", TypeError, "tcp_options must be a dict"),
    ("ssl_options", "{'cafile':", ValueError, "Invalid ssl_options value"),
    ("ssl_options", "[1]", TypeError, "ssl_options must be a dict or None"),
]


@pytest.mark.parametrize(("key", "raw", "error", "fragment"), BAD_QUERY)
def test_bad_query_value(key: str, raw: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        URLParameters(f"amqp://h/?{key}={quote(raw)}")
    assert type(info.value) is error
    assert fragment in str(info.value)


def test_literal_errors_do_not_echo_the_value() -> None:
    raw = quote("{'password': 's3cret'")
    with pytest.raises(ValueError) as info:
        URLParameters(f"amqp://h/?ssl_options={raw}")
    assert "s3cret" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    "query", ["heartbeat=", "heartbeat=&channel_max=", "locale=", "ssl_options=", "heartbeat"]
)
def test_blank_values_are_ignored(query: str) -> None:
    params = URLParameters(f"amqps://h/?{query}")
    defaults = Parameters()
    assert params.heartbeat is defaults.heartbeat
    assert params.channel_max == defaults.channel_max
    assert params.locale == defaults.locale
    assert params.ssl_options is not None


def test_blank_duplicate_does_not_count() -> None:
    assert URLParameters("amqp://h/?heartbeat=&heartbeat=7").heartbeat == 7


@pytest.mark.parametrize(
    "query", ["heartbeat=1&heartbeat=2", "heartbeat=1&heartbeat=1", "locale=a&locale=b"]
)
def test_duplicate_keys(query: str) -> None:
    with pytest.raises(ValueError, match="Expected exactly one value for URL parameter"):
        URLParameters(f"amqp://h/?{query}")


@pytest.mark.parametrize(
    "key",
    ["foo", "heartbeat_interval", "backpressure_detection", "ssl", "host", "port", "Heartbeat"],
)
def test_unknown_keys(key: str) -> None:
    with pytest.raises(ValueError) as info:
        URLParameters(f"amqp://h/?{key}=1")
    assert str(info.value) == f"Unknown URL parameter: {key!r}"


def test_query_values_are_percent_decoded() -> None:
    props = {"connection_name": "a&b=c %", "product": "x"}
    params = URLParameters(f"amqp://h/?client_properties={quote(repr(props))}&locale=de%5FDE")
    assert params.client_properties == props
    assert params.locale == "de_DE"


def test_query_plus_is_a_space() -> None:
    assert URLParameters("amqp://h/?locale=a+b").locale == "a b"


def test_full_url() -> None:
    params = URLParameters(
        "amqps://app:p%40ss@Rabbit.Example:5999/prod?heartbeat=15&connection_attempts=3"
        "&retry_delay=1&socket_timeout=4&blocked_connection_timeout=60"
    )
    assert params.host == "rabbit.example"
    assert params.port == 5999
    assert params.virtual_host == "prod"
    assert params.credentials == PlainCredentials("app", "p@ss")
    assert params.heartbeat == 15
    assert params.connection_attempts == 3
    assert params.retry_delay == 1.0
    assert params.socket_timeout == 4.0
    assert params.blocked_connection_timeout == 60.0
    assert params.ssl_options is not None


# --- ssl_options in the query ---------------------------------------------------------


def _with_ssl(scheme: str, options: Any) -> URLParameters:
    return URLParameters(f"{scheme}://h/?ssl_options={quote(repr(options))}")


def test_ssl_options_none_with_amqp_stays_plain() -> None:
    params = _with_ssl("amqp", None)
    assert params.ssl_options is None
    assert params.port == 5672


def test_ssl_options_none_with_amqps_is_an_error() -> None:
    with pytest.raises(ValueError, match="contradicts the amqps scheme"):
        _with_ssl("amqps", None)


def test_ssl_options_dict_turns_tls_on_for_amqp_but_keeps_port(tls_files: Any) -> None:
    params = _with_ssl("amqp", {"ca_certs": str(tls_files.ca_file)})
    assert isinstance(params.ssl_options, SSLOptions)
    assert params.port == 5672
    context = params.ssl_options.context
    assert context.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert [ca["subject"] for ca in context.get_ca_certs()] == [
        ((("commonName", "pika test CA"),),)
    ]


def test_ssl_options_dict_replaces_the_amqps_default_context(tls_files: Any) -> None:
    params = _with_ssl("amqps", {"cafile": str(tls_files.ca_file), "server_hostname": "sni"})
    assert params.port == 5671
    assert params.ssl_options is not None
    assert params.ssl_options.server_hostname == "sni"
    assert len(params.ssl_options.context.get_ca_certs()) == 1


@pytest.mark.parametrize("key", ["ca_data", "cadata"])
def test_ssl_options_ca_data(tls_files: Any, key: str) -> None:
    params = _with_ssl("amqp", {key: tls_files.ca_pem})
    assert params.ssl_options is not None
    assert len(params.ssl_options.context.get_ca_certs()) == 1


@pytest.mark.parametrize("key", ["ca_path", "capath"])
def test_ssl_options_ca_path(tls_files: Any, key: str) -> None:
    assert _with_ssl("amqp", {key: str(tls_files.ca_dir)}).ssl_options is not None


def test_ssl_options_missing_ca_file(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        _with_ssl("amqp", {"ca_certs": str(tmp_path / "missing.pem")})


def test_ssl_options_without_a_ca_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="needs a CA"):
        _with_ssl("amqp", {"server_hostname": "x"})
    with pytest.raises(ValueError, match="needs a CA"):
        _with_ssl("amqps", {})


def test_ssl_options_cert_chain_with_password(tls_files: Any) -> None:
    params = _with_ssl(
        "amqps",
        {
            "ca_certs": str(tls_files.ca_file),
            "certfile": str(tls_files.cert_file),
            "keyfile": str(tls_files.key_file),
            "password": "key-passphrase",
        },
    )
    assert params.ssl_options is not None


def test_ssl_options_cert_chain_wrong_password(tls_files: Any) -> None:
    with pytest.raises(ssl.SSLError):
        _with_ssl(
            "amqps",
            {
                "ca_certs": str(tls_files.ca_file),
                "certfile": str(tls_files.cert_file),
                "keyfile": str(tls_files.key_file),
                "password": "wrong",
            },
        )


def test_ssl_options_keyfile_alone_is_ignored(tls_files: Any) -> None:
    assert (
        _with_ssl(
            "amqp", {"ca_certs": str(tls_files.ca_file), "keyfile": str(tls_files.key_file)}
        ).ssl_options
        is not None
    )


def test_ssl_options_ciphers(tls_files: Any) -> None:
    params = _with_ssl("amqp", {"ca_certs": str(tls_files.ca_file), "ciphers": "ECDHE+AESGCM"})
    assert params.ssl_options is not None
    tls12 = [c for c in params.ssl_options.context.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12
    assert all("ECDHE" in c["name"] and "GCM" in c["name"] for c in tls12)
    with pytest.raises(ssl.SSLError):
        _with_ssl("amqp", {"ca_certs": str(tls_files.ca_file), "ciphers": "NO-SUCH-CIPHER"})


def test_ssl_options_protocol(tls_files: Any) -> None:
    params = _with_ssl(
        "amqp", {"ca_certs": str(tls_files.ca_file), "protocol": int(ssl.PROTOCOL_TLS_SERVER)}
    )
    assert params.ssl_options is not None
    assert params.ssl_options.context.protocol == ssl.PROTOCOL_TLS_SERVER


def test_ssl_options_unknown_keys_are_logged(
    tls_files: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pika.connection"):
        params = _with_ssl("amqp", {"ca_certs": str(tls_files.ca_file), "cert_reqs": 0})
    assert params.ssl_options is not None
    assert "cert_reqs" in caplog.text
    # ignored: verification stays on
    assert params.ssl_options.context.verify_mode == ssl.CERT_REQUIRED


def test_ssl_options_context_verifies_against_the_given_ca(
    tls_files: Any, tls_handshake: Any
) -> None:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tls_files.cert_file, tls_files.plain_key_file)
    client = _with_ssl("amqp", {"ca_data": tls_files.ca_pem}).ssl_options
    assert client is not None
    tls_handshake(client.context, server, "broker.test")
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(client.context, server, "wrong-name.test")
    untrusting = URLParameters("amqps://h").ssl_options
    assert untrusting is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(untrusting.context, server, "broker.test")
