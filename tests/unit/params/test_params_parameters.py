"""Parameters / ConnectionParameters: defaults, validation, order, copies, dunders (API.md §3.2)."""

from __future__ import annotations

import copy
import inspect
import pickle
import ssl
from fractions import Fraction
from typing import Any

import pytest

from pika import credentials as credentials_mod
from pika._params import ConnectionParameters, Parameters, SSLOptions, URLParameters
from pika.credentials import ExternalCredentials, PlainCredentials

POSITIONAL_ORDER = [
    "host",
    "port",
    "virtual_host",
    "credentials",
    "channel_max",
    "frame_max",
    "heartbeat",
    "ssl_options",
    "connection_attempts",
    "retry_delay",
    "socket_timeout",
    "stack_timeout",
    "locale",
    "blocked_connection_timeout",
    "client_properties",
    "tcp_options",
]


def _ssl_options() -> SSLOptions:
    return SSLOptions(ssl.create_default_context())


def _heartbeat_cb(connection: object, broker_value: int) -> int:
    return broker_value


# --- defaults -------------------------------------------------------------------------


def test_class_level_defaults() -> None:
    expected = {
        "DEFAULT_USERNAME": "guest",
        "DEFAULT_PASSWORD": "guest",
        "DEFAULT_HOST": "localhost",
        "DEFAULT_PORT": 5672,
        "DEFAULT_SSL_PORT": 5671,
        "DEFAULT_VIRTUAL_HOST": "/",
        "DEFAULT_CHANNEL_MAX": 65535,
        "DEFAULT_FRAME_MAX": 131072,
        "DEFAULT_HEARTBEAT_TIMEOUT": None,
        "DEFAULT_CONNECTION_ATTEMPTS": 1,
        "DEFAULT_RETRY_DELAY": 2.0,
        "DEFAULT_SOCKET_TIMEOUT": 10.0,
        "DEFAULT_STACK_TIMEOUT": 15.0,
        "DEFAULT_LOCALE": "en_US",
        "DEFAULT_BLOCKED_CONNECTION_TIMEOUT": None,
        "DEFAULT_CLIENT_PROPERTIES": None,
        "DEFAULT_SSL_OPTIONS": None,
        "DEFAULT_TCP_OPTIONS": None,
        "DEFAULT_SSL": False,
    }
    for name, value in expected.items():
        actual = getattr(Parameters, name)
        assert actual == value and type(actual) is type(value), name
    default_credentials = Parameters.DEFAULT_CREDENTIALS
    assert default_credentials == PlainCredentials("guest", "guest")


@pytest.mark.parametrize("cls", [Parameters, ConnectionParameters])
def test_instance_defaults(cls: type[Parameters]) -> None:
    params = cls()
    assert params.host == "localhost"
    assert params.port == 5672
    assert params.virtual_host == "/"
    assert params.credentials == PlainCredentials("guest", "guest")
    assert params.channel_max == 65535
    assert params.frame_max == 131072
    assert params.heartbeat is None
    assert params.ssl_options is None
    assert params.connection_attempts == 1
    assert params.retry_delay == 2.0
    assert params.socket_timeout == 10.0
    assert params.stack_timeout == 15.0
    assert params.locale == "en_US"
    assert params.blocked_connection_timeout is None
    assert params.client_properties is None
    assert params.tcp_options is None


def test_default_credentials_are_not_shared() -> None:
    first, second = Parameters(), Parameters()
    assert first.credentials is not second.credentials
    assert first.credentials is not Parameters.DEFAULT_CREDENTIALS
    first.credentials.username = "changed"  # type: ignore[union-attr]
    assert second.credentials.username == "guest"  # type: ignore[union-attr]
    assert Parameters.DEFAULT_CREDENTIALS.username == "guest"


def test_constants_match_the_protocol_modules() -> None:
    from pika import channel, spec

    assert Parameters.DEFAULT_FRAME_MAX == spec.FRAME_MAX_SIZE
    assert Parameters.DEFAULT_CHANNEL_MAX == channel.MAX_CHANNELS
    with pytest.raises(ValueError):
        Parameters().frame_max = spec.FRAME_MIN_SIZE - 1
    Parameters().frame_max = spec.FRAME_MIN_SIZE


# --- validation: one table drives both the constructor and assignment ----------------

# field -> (accepted input, stored value) pairs
GOOD: dict[str, list[tuple[Any, Any]]] = {
    "host": [("rabbit.example", "rabbit.example"), ("", "")],
    "port": [(5673, 5673), ("5673", 5673), (5672.9, 5672), (True, 1), (0, 0), (70000, 70000)],
    "virtual_host": [("vh", "vh"), ("/", "/")],
    "channel_max": [(1, 1), (65535, 65535), (True, 1)],
    "frame_max": [(8192, 8192), (131072, 131072), (65536, 65536)],
    "heartbeat": [(None, None), (0, 0), (60, 60), (True, 1), (False, 0)],
    "connection_attempts": [(1, 1), (10, 10)],
    "retry_delay": [(0, 0), (-1, -1), (2.5, 2.5), (Fraction(1, 2), Fraction(1, 2))],
    "socket_timeout": [(None, None), (0.1, 0.1), (5, 5.0), (Fraction(1, 4), 0.25)],
    "stack_timeout": [(None, None), (0.1, 0.1), (5, 5.0)],
    "locale": [("fr_FR", "fr_FR")],
    "blocked_connection_timeout": [(None, None), (0, 0), (5, 5), (2.5, 2.5)],
    "client_properties": [(None, None), ({"connection_name": "x"}, {"connection_name": "x"})],
    "tcp_options": [(None, None), ({"TCP_KEEPIDLE": 60}, {"TCP_KEEPIDLE": 60})],
}

# field -> (bad input, expected exception, fragment of the message)
BAD: dict[str, list[tuple[Any, type[Exception], str]]] = {
    "host": [(1, TypeError, "host"), (None, TypeError, "host"), (b"h", TypeError, "host")],
    "port": [
        ("abc", TypeError, "port must be an int"),
        (None, TypeError, "port must be an int"),
        ([], TypeError, "port must be an int"),
    ],
    "virtual_host": [(None, TypeError, "virtual_host"), (1, TypeError, "virtual_host")],
    "credentials": [
        (None, TypeError, "credentials"),
        ("guest", TypeError, "credentials"),
        ({"username": "u"}, TypeError, "credentials"),
    ],
    "channel_max": [
        (0, ValueError, "channel_max"),
        (-1, ValueError, "channel_max"),
        (65536, ValueError, "channel_max"),
        (1.0, TypeError, "channel_max"),
        ("5", TypeError, "channel_max"),
        (None, TypeError, "channel_max"),
    ],
    "frame_max": [
        (8191, ValueError, "frame_max"),
        (4096, ValueError, "frame_max"),
        (131073, ValueError, "frame_max"),
        ("8192", TypeError, "frame_max"),
        (9000.0, TypeError, "frame_max"),
        (None, TypeError, "frame_max"),
    ],
    "heartbeat": [
        (-1, ValueError, "heartbeat"),
        (1.5, TypeError, "heartbeat"),
        ("60", TypeError, "heartbeat"),
    ],
    "ssl_options": [
        ({}, TypeError, "ssl_options"),
        (True, TypeError, "ssl_options"),
        (ssl.create_default_context(), TypeError, "ssl_options"),
    ],
    "connection_attempts": [
        (0, ValueError, "connection_attempts"),
        (-3, ValueError, "connection_attempts"),
        (1.0, TypeError, "connection_attempts"),
        (None, TypeError, "connection_attempts"),
    ],
    "retry_delay": [
        ("1", TypeError, "retry_delay"),
        (None, TypeError, "retry_delay"),
        (1j, TypeError, "retry_delay"),
    ],
    "socket_timeout": [
        (0, ValueError, "socket_timeout"),
        (-1, ValueError, "socket_timeout"),
        (float("nan"), ValueError, "socket_timeout"),
        ("5", TypeError, "socket_timeout"),
    ],
    "stack_timeout": [
        (0, ValueError, "stack_timeout"),
        (-0.5, ValueError, "stack_timeout"),
        (float("nan"), ValueError, "stack_timeout"),
        ("5", TypeError, "stack_timeout"),
    ],
    "locale": [(None, TypeError, "locale"), (1, TypeError, "locale")],
    "blocked_connection_timeout": [
        (-0.1, ValueError, "blocked_connection_timeout"),
        (float("nan"), ValueError, "blocked_connection_timeout"),
        ("1", TypeError, "blocked_connection_timeout"),
    ],
    "client_properties": [([], TypeError, "client_properties"), ("x", TypeError, "client_")],
    "tcp_options": [([], TypeError, "tcp_options"), ("x", TypeError, "tcp_options")],
}

GOOD_CASES = [(field, given, stored) for field, cases in GOOD.items() for given, stored in cases]
BAD_CASES = [(field, *case) for field, cases in BAD.items() for case in cases]


@pytest.mark.parametrize(("field", "given", "stored"), GOOD_CASES)
def test_good_value_via_constructor(field: str, given: Any, stored: Any) -> None:
    params = ConnectionParameters(**{field: given})
    assert getattr(params, field) == stored
    assert type(getattr(params, field)) is type(stored)


@pytest.mark.parametrize(("field", "given", "stored"), GOOD_CASES)
def test_good_value_via_assignment(field: str, given: Any, stored: Any) -> None:
    for params in (Parameters(), ConnectionParameters(), URLParameters("amqp://")):
        setattr(params, field, given)
        assert getattr(params, field) == stored
        assert type(getattr(params, field)) is type(stored)


@pytest.mark.parametrize(("field", "bad", "error", "fragment"), BAD_CASES)
def test_bad_value_via_constructor(
    field: str, bad: Any, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        ConnectionParameters(**{field: bad})
    assert type(info.value) is error
    assert fragment in str(info.value)


@pytest.mark.parametrize(("field", "bad", "error", "fragment"), BAD_CASES)
def test_bad_value_via_assignment_keeps_old_value(
    field: str, bad: Any, error: type[Exception], fragment: str
) -> None:
    params = ConnectionParameters()
    before = getattr(params, field)
    with pytest.raises(error) as info:
        setattr(params, field, bad)
    assert type(info.value) is error
    assert fragment in str(info.value)
    assert getattr(params, field) == before


def test_heartbeat_callable_is_stored_as_is() -> None:
    params = ConnectionParameters(heartbeat=_heartbeat_cb)
    assert params.heartbeat is _heartbeat_cb
    params.heartbeat = 30
    assert params.heartbeat == 30


def test_credentials_types() -> None:
    external = ExternalCredentials()
    params = ConnectionParameters(credentials=external)
    assert isinstance(params.credentials, ExternalCredentials)
    params.credentials = PlainCredentials("u", "p")
    assert params.credentials == PlainCredentials("u", "p")


def test_credentials_error_never_shows_the_value() -> None:
    with pytest.raises(TypeError) as info:
        ConnectionParameters(credentials=("user", "s3cret"))  # type: ignore[arg-type]
    assert "s3cret" not in str(info.value)
    assert "tuple" in str(info.value)
    assert "PlainCredentials" in str(info.value)


def test_ssl_options_error_never_shows_the_dict() -> None:
    with pytest.raises(TypeError) as info:
        ConnectionParameters(ssl_options={"password": "s3cret"})  # type: ignore[arg-type]
    assert "s3cret" not in str(info.value)


def test_credentials_valid_types_are_read_at_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    class TokenCredentials:
        TYPE = "TOKEN"
        erase_on_connect = False

    with pytest.raises(TypeError):
        ConnectionParameters(credentials=TokenCredentials())  # type: ignore[arg-type]
    monkeypatch.setattr(
        credentials_mod, "VALID_TYPES", [*credentials_mod.VALID_TYPES, TokenCredentials]
    )
    params = ConnectionParameters(credentials=TokenCredentials())  # type: ignore[arg-type]
    assert isinstance(params.credentials, TokenCredentials)


def test_appending_to_valid_types_works(monkeypatch: pytest.MonkeyPatch) -> None:
    class Custom:
        pass

    monkeypatch.setattr(credentials_mod, "VALID_TYPES", list(credentials_mod.VALID_TYPES))
    credentials_mod.VALID_TYPES.append(Custom)
    assert isinstance(ConnectionParameters(credentials=Custom()).credentials, Custom)  # type: ignore[arg-type]


# --- positional order, the sentinel, unexpected kwargs -------------------------------


def test_signature_order_and_sentinel_defaults() -> None:
    signature = inspect.signature(ConnectionParameters.__init__)
    names = [
        name
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert names == POSITIONAL_ORDER
    # Our addition is keyword-only, so pika's positional calls keep their meaning.
    assert signature.parameters["recovery"].kind is inspect.Parameter.KEYWORD_ONLY
    for name in names:
        parameter = signature.parameters[name]
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert parameter.default is ConnectionParameters._DEFAULT
    assert signature.parameters["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    assert isinstance(ConnectionParameters._DEFAULT, type)


def test_all_positional_arguments_land_in_order() -> None:
    creds = PlainCredentials("u", "p")
    ssl_options = _ssl_options()
    values = [
        "h",
        5673,
        "vh",
        creds,
        100,
        8192,
        30,
        ssl_options,
        3,
        1.5,
        2.5,
        3.5,
        "de_DE",
        4.5,
        {"a": 1},
        {"TCP_KEEPCNT": 3},
    ]
    params = ConnectionParameters(*values)
    for name, value in zip(POSITIONAL_ORDER, values, strict=True):
        assert getattr(params, name) == value, name
    assert params.ssl_options is ssl_options


def test_common_positional_prefix() -> None:
    params = ConnectionParameters("h", 5673, "/vh", PlainCredentials("a", "b"))
    assert (params.host, params.port, params.virtual_host) == ("h", 5673, "/vh")
    assert params.credentials == PlainCredentials("a", "b")


@pytest.mark.parametrize("name", POSITIONAL_ORDER)
def test_explicit_sentinel_keeps_the_default(name: str) -> None:
    params = ConnectionParameters(**{name: ConnectionParameters._DEFAULT})
    assert getattr(params, name) == getattr(Parameters(), name)


@pytest.mark.parametrize(
    "kwargs",
    [{"ssl": True}, {"heartbeat_interval": 5}, {"backpressure_detection": True}, {"hots": "x"}],
)
def test_unexpected_kwargs(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as info:
        ConnectionParameters(**kwargs)
    message = str(info.value)
    assert message.startswith("unexpected kwargs: {")
    assert repr(next(iter(kwargs))) in message


def test_unexpected_kwargs_message_omits_values() -> None:
    with pytest.raises(TypeError) as info:
        ConnectionParameters(host="h", password="s3cret", username="u")
    assert str(info.value) == "unexpected kwargs: {'password', 'username'}"


# --- port selection with ssl_options ---------------------------------------------------


def test_ssl_options_in_constructor_selects_ssl_port() -> None:
    assert ConnectionParameters(ssl_options=_ssl_options()).port == 5671
    assert ConnectionParameters("h", ssl_options=_ssl_options()).port == 5671


def test_explicit_port_wins_over_ssl_port() -> None:
    assert ConnectionParameters(port=5672, ssl_options=_ssl_options()).port == 5672
    assert ConnectionParameters("h", 1234, ssl_options=_ssl_options()).port == 1234


def test_ssl_options_none_keeps_plain_port() -> None:
    assert ConnectionParameters(ssl_options=None).port == 5672


def test_setting_ssl_options_later_keeps_port() -> None:
    params = ConnectionParameters()
    params.ssl_options = _ssl_options()
    assert params.port == 5672
    assert ConnectionParameters(ssl_options=_ssl_options()).port == 5671


# --- slots ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory", [Parameters, ConnectionParameters, lambda: URLParameters("amqp://")]
)
def test_unknown_attribute_raises(factory: Any) -> None:
    params = factory()
    assert not hasattr(params, "__dict__")
    with pytest.raises(AttributeError):
        params.hearbeat = 5
    with pytest.raises(AttributeError):
        params.ssl = True


# --- equality and repr ----------------------------------------------------------------


def test_eq_compares_host_and_port_only() -> None:
    first = ConnectionParameters("h", 1, "a", heartbeat=1)
    second = ConnectionParameters("h", 1, "b", heartbeat=2)
    assert first == second
    assert (first != second) is False
    assert first != ConnectionParameters("h", 2)
    assert first != ConnectionParameters("other", 1)
    assert URLParameters("amqp://h:1/x") == first
    assert Parameters() == ConnectionParameters()


def test_eq_with_foreign_object_is_not_implemented() -> None:
    params = ConnectionParameters()
    assert params.__eq__(("localhost", 5672)) is NotImplemented
    assert params.__ne__(object()) is NotImplemented
    assert params != "localhost"
    assert (params == 5672) is False


def test_parameters_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(ConnectionParameters())


def test_repr() -> None:
    assert (
        repr(ConnectionParameters())
        == "<ConnectionParameters host=localhost port=5672 virtual_host=/ ssl=False>"
    )
    assert repr(Parameters()) == "<Parameters host=localhost port=5672 virtual_host=/ ssl=False>"
    params = ConnectionParameters("rabbit", virtual_host="vh", ssl_options=_ssl_options())
    assert repr(params) == "<ConnectionParameters host=rabbit port=5671 virtual_host=vh ssl=True>"
    assert repr(URLParameters("amqps://u:s3cret@h/v")) == (
        "<URLParameters host=h port=5671 virtual_host=v ssl=True>"
    )


def test_subclass_repr_uses_dynamic_name() -> None:
    class MyParams(ConnectionParameters):
        __slots__ = ()

    assert repr(MyParams()).startswith("<MyParams host=localhost")


# --- copies ---------------------------------------------------------------------------


def test_credentials_are_deep_copied() -> None:
    creds = PlainCredentials("u", "p")
    params = ConnectionParameters(credentials=creds)
    assert params.credentials == creds
    assert params.credentials is not creds
    creds.password = "changed"
    assert params.credentials.password == "p"  # type: ignore[union-attr]
    again = ConnectionParameters()
    again.credentials = creds
    assert again.credentials is not creds


def test_client_properties_are_deep_copied() -> None:
    props: dict[str, Any] = {"connection_name": "x", "capabilities": {"a": True}}
    params = ConnectionParameters(client_properties=props)
    props["capabilities"]["a"] = False
    props["connection_name"] = "y"
    assert params.client_properties == {"connection_name": "x", "capabilities": {"a": True}}
    params.client_properties = props
    assert params.client_properties is not props


def test_tcp_options_are_not_copied() -> None:
    opts = {"TCP_KEEPIDLE": 60}
    assert ConnectionParameters(tcp_options=opts).tcp_options is opts


def test_deepcopy_of_parameters_is_independent() -> None:
    params = ConnectionParameters("h", client_properties={"a": [1]}, heartbeat=_heartbeat_cb)
    clone = copy.deepcopy(params)
    assert clone == params and clone is not params
    assert type(clone) is ConnectionParameters
    clone.host = "other"
    clone.client_properties["a"].append(2)  # type: ignore[index]
    assert params.host == "h"
    assert params.client_properties == {"a": [1]}
    assert clone.heartbeat is _heartbeat_cb


def test_deepcopy_with_ssl_options_shares_the_context() -> None:
    options = SSLOptions(ssl.create_default_context(), "sni.example")
    params = ConnectionParameters(ssl_options=options)
    clone = copy.deepcopy(params)
    assert clone.ssl_options is not options
    assert clone.ssl_options is not None
    assert clone.ssl_options.context is options.context
    assert clone.ssl_options.server_hostname == "sni.example"
    url_clone = copy.deepcopy(URLParameters("amqps://h"))
    assert url_clone.ssl_options is not None and url_clone.port == 5671


# --- public identity ------------------------------------------------------------------


def test_public_module_names() -> None:
    for cls in (Parameters, ConnectionParameters, URLParameters, SSLOptions):
        assert cls.__module__ == "pika.connection"
    assert ConnectionParameters._DEFAULT.__qualname__ == "ConnectionParameters._DEFAULT"
    assert issubclass(ConnectionParameters, Parameters)
    assert issubclass(URLParameters, Parameters)


def test_pickle_round_trip_through_the_public_module() -> None:
    params = ConnectionParameters("h", 1, "vh", PlainCredentials("u", "p"), heartbeat=5)
    clone = pickle.loads(pickle.dumps(params))
    assert type(clone) is ConnectionParameters
    assert (clone.host, clone.port, clone.virtual_host, clone.heartbeat) == ("h", 1, "vh", 5)
    assert clone.credentials == PlainCredentials("u", "p")
    url_clone = pickle.loads(pickle.dumps(URLParameters("amqp://a:b@x/v")))
    assert (url_clone.host, url_clone.virtual_host) == ("x", "v")
