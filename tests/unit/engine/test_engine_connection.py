"""Connection-level behaviour of the sans-I/O engine, through bytes only."""

from __future__ import annotations

import pytest
from pamqp import commands as pc

from pika import exceptions
from pika._engine import events as ev
from pika._engine.states import ConnectionState
from pika.credentials import ExternalCredentials
from tests.support.scripted_broker import SERVER_PROPERTIES, ScriptedBroker, make_engine, types

CHUNKS = [None, 1, 7]


@pytest.fixture(params=CHUNKS, ids=["whole", "bytewise", "chunk7"])
def chunk(request: pytest.FixtureRequest) -> int | None:
    return request.param  # type: ignore[no-any-return]


def start(
    broker: ScriptedBroker, mechanisms: str = "PLAIN AMQPLAIN", **kwargs: object
) -> list[object]:
    broker.engine.connection_made()
    assert broker.engine.data_to_send() == b"AMQP\x00\x00\x09\x01"
    return broker.send(
        0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms=mechanisms, **kwargs)
    )


def test_handshake_sends_start_ok_tune_ok_and_open(chunk: int | None) -> None:
    engine = make_engine(virtual_host="vh", client_properties={"connection_name": "t"})
    broker = ScriptedBroker(engine, chunk)
    start(broker)
    assert engine.state is ConnectionState.START
    [(channel, start_ok)] = broker.received()
    assert channel == 0 and isinstance(start_ok, pc.Connection.StartOk)
    assert start_ok.mechanism == "PLAIN"
    assert start_ok.response == "\x00guest\x00guest"
    assert start_ok.locale == "en_US"
    assert start_ok.client_properties["connection_name"] == "t"
    events = broker.send(0, pc.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=60))
    assert events == [ev.ConnectionTuned(2047, 131072, 60)]
    tune_ok, open_ = (v for _, v in broker.received())
    assert (tune_ok.channel_max, tune_ok.frame_max, tune_ok.heartbeat) == (2047, 131072, 60)
    assert open_.virtual_host == "vh"
    assert broker.send(0, pc.Connection.OpenOk()) == [ev.ConnectionOpened("")]
    assert engine.is_open and engine.was_open


@pytest.mark.parametrize(
    ("client", "server", "expected"),
    [(None, 60, 60), (0, 60, 0), (10, 60, 10), (600, 60, 600), (None, 0, 0), (30, 0, 30)],
)
def test_heartbeat_negotiation_client_choice_wins(
    client: int | None, server: int, expected: int
) -> None:
    engine = make_engine(heartbeat=client)
    broker = ScriptedBroker(engine)
    start(broker)
    broker.received()
    [tuned] = broker.send(0, pc.Connection.Tune(channel_max=0, frame_max=0, heartbeat=server))
    assert isinstance(tuned, ev.ConnectionTuned) and tuned.heartbeat == expected


def test_heartbeat_callable_receives_server_value() -> None:
    seen: list[int] = []

    def choose(server: int) -> int:
        seen.append(server)
        return server // 2

    engine = make_engine(heartbeat=choose)
    broker = ScriptedBroker(engine)
    start(broker)
    broker.received()
    [tuned] = broker.send(0, pc.Connection.Tune(channel_max=0, frame_max=0, heartbeat=60))
    assert seen == [60] and isinstance(tuned, ev.ConnectionTuned) and tuned.heartbeat == 30


@pytest.mark.parametrize(
    ("client", "server", "expected"),
    [(65535, 2047, 2047), (100, 2047, 100), (0, 2047, 2047), (100, 0, 100)],
)
def test_channel_max_zero_means_other_side(client: int, server: int, expected: int) -> None:
    engine = make_engine(channel_max=client)
    broker = ScriptedBroker(engine)
    start(broker)
    broker.received()
    [tuned] = broker.send(0, pc.Connection.Tune(channel_max=server, frame_max=131072, heartbeat=0))
    assert isinstance(tuned, ev.ConnectionTuned) and tuned.channel_max == expected


def test_external_credentials_use_external_mechanism() -> None:
    engine = make_engine(credentials=ExternalCredentials())
    broker = ScriptedBroker(engine)
    start(broker, mechanisms="PLAIN EXTERNAL")
    [(_, start_ok)] = broker.received()
    assert start_ok.mechanism == "EXTERNAL"


def test_no_common_mechanism_is_authentication_error() -> None:
    engine = make_engine(credentials=ExternalCredentials())
    broker = ScriptedBroker(engine)
    events = start(broker, mechanisms="PLAIN")
    assert types(events) == [ev.TransportCloseRequested]
    final = engine.connection_lost(None)
    assert types(final) == [ev.ConnectionTerminated]
    error = final[0].error  # type: ignore[union-attr]
    assert isinstance(error, exceptions.AuthenticationError) and error.args[0] == "EXTERNAL"
    assert final[0].was_open is False  # type: ignore[union-attr]


def test_version_mismatch_tears_down() -> None:
    broker = ScriptedBroker(make_engine())
    events = start(broker, version_major=0, version_minor=8)
    assert types(events) == [ev.TransportCloseRequested]
    assert isinstance(events[0].error, exceptions.ProtocolVersionMismatch)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("protocol", exceptions.IncompatibleProtocolError),
        ("start", exceptions.ProbableAuthenticationError),
        ("tune", exceptions.ProbableAccessDeniedError),
    ],
)
def test_stream_lost_while_opening_is_made_specific(stage: str, expected: type[Exception]) -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    engine.connection_made()
    engine.data_to_send()
    if stage in ("start", "tune"):
        broker.send(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
    if stage == "tune":
        broker.send(0, pc.Connection.Tune(channel_max=0, frame_max=131072, heartbeat=0))
    [terminated] = engine.connection_lost(exceptions.StreamLostError("Transport indicated EOF"))
    assert isinstance(terminated, ev.ConnectionTerminated)
    assert type(terminated.error) is expected
    assert "Transport indicated EOF" in terminated.error.args[0]
    assert terminated.error.host == "localhost" and terminated.error.port == 5672  # type: ignore[attr-defined]


def test_broker_refusing_login_is_probable_authentication_error() -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    start(broker)
    broker.received()
    events = broker.send(
        0,
        pc.Connection.Close(
            reply_code=403, reply_text="ACCESS_REFUSED - Login was refused", class_id=0, method_id=0
        ),
    )
    assert types(events) == [ev.TransportCloseRequested]
    assert [type(v) for _, v in broker.received()] == [pc.Connection.CloseOk]
    [terminated] = engine.connection_lost(None)
    assert isinstance(terminated, ev.ConnectionTerminated)
    assert isinstance(terminated.error, exceptions.ProbableAuthenticationError)
    assert "ACCESS_REFUSED" in terminated.error.args[0]


def test_client_close_closes_channels_first_then_connection(chunk: int | None) -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine, chunk)
    broker.open_connection()
    one, two = broker.open_channel(), broker.open_channel()
    assert engine.close(200, "Normal shutdown") == []
    assert engine.state is ConnectionState.CLOSING
    sent = broker.received()
    assert [(ch, type(v)) for ch, v in sent] == [(one, pc.Channel.Close), (two, pc.Channel.Close)]
    assert sent[0][1].reply_code == 200
    closed = broker.send(one, pc.Channel.CloseOk())
    assert types(closed) == [ev.ChannelClosed]
    assert isinstance(closed[0].error, exceptions.ChannelClosedByClient)  # type: ignore[union-attr]
    assert broker.received() == []  # Connection.Close waits for the last channel
    broker.send(two, pc.Channel.CloseOk())
    [(channel, close)] = broker.received()
    assert channel == 0 and isinstance(close, pc.Connection.Close) and close.reply_code == 200
    events = broker.send(0, pc.Connection.CloseOk())
    assert types(events) == [ev.TransportCloseRequested]
    [terminated] = engine.connection_lost(None)
    assert isinstance(terminated, ev.ConnectionTerminated) and terminated.was_open
    assert isinstance(terminated.error, exceptions.ConnectionClosedByClient)
    assert terminated.error.args == (200, "Normal shutdown")
    with pytest.raises(exceptions.ConnectionWrongStateError):
        engine.close()


def test_broker_close_reports_channels_then_connection() -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    broker.open_connection()
    number = broker.open_channel()
    events = broker.send(
        0,
        pc.Connection.Close(
            reply_code=320, reply_text="CONNECTION_FORCED - bye", class_id=0, method_id=0
        ),
    )
    assert types(events) == [ev.TransportCloseRequested]
    assert [type(v) for _, v in broker.received()] == [pc.Connection.CloseOk]
    assert broker.send(0, pc.Connection.CloseOk()) == []  # input ignored once going down
    final = engine.connection_lost(None)
    assert types(final) == [ev.ChannelClosed, ev.ConnectionTerminated]
    assert final[0].channel_number == number  # type: ignore[union-attr]
    error = final[1].error  # type: ignore[union-attr]
    assert isinstance(error, exceptions.ConnectionClosedByBroker) and error.reply_code == 320
    assert final[0].error is error  # type: ignore[union-attr]
    assert engine.state is ConnectionState.CLOSED


def test_close_while_opening_aborts_with_connection_open_aborted() -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    start(broker)
    events = engine.close(320, "Timeout while setting up AMQP")
    assert types(events) == [ev.TransportCloseRequested]
    [terminated] = engine.connection_lost(None)
    assert isinstance(terminated, ev.ConnectionTerminated) and not terminated.was_open
    assert isinstance(terminated.error, exceptions.ConnectionOpenAborted)
    assert "prev_state=START" in terminated.error.args[0]


def test_heartbeats_sent_when_idle_and_peer_declared_dead() -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    broker.open_connection(heartbeat=10)
    assert engine.next_deadline() == float("-inf")
    assert engine.tick(100.0) == []
    assert engine.next_deadline() == 105.0
    assert engine.tick(104.0) == [] and engine.data_to_send() == b""
    engine.tick(105.0)
    assert engine.data_to_send() == b"\x08\x00\x00\x00\x00\x00\x00\xce"
    broker.heartbeat()
    engine.tick(112.0)  # the heartbeat counted as activity at 112
    engine.data_to_send()
    assert engine.tick(126.9) == []
    events = engine.tick(127.0)
    assert types(events) == [ev.TransportCloseRequested]
    assert isinstance(events[0].error, exceptions.AMQPHeartbeatTimeout)  # type: ignore[union-attr]


def test_zero_heartbeat_needs_no_timer() -> None:
    engine = make_engine()
    ScriptedBroker(engine).open_connection(heartbeat=0)
    assert engine.next_deadline() is None


def test_blocked_connection_timeout() -> None:
    engine = make_engine(blocked_connection_timeout=5.0)
    broker = ScriptedBroker(engine)
    broker.open_connection()
    events = broker.send(0, pc.Connection.Blocked(reason="low on memory"))
    assert types(events) == [ev.ConnectionBlocked]
    assert events[0].frame.method.reason == "low on memory"  # type: ignore[union-attr]
    assert engine.next_deadline() == float("-inf")
    engine.tick(50.0)
    assert engine.next_deadline() == 55.0
    assert broker.send(0, pc.Connection.Blocked(reason="again")) != []  # warned, still reported
    assert engine.tick(54.0) == []
    events = engine.tick(55.0)
    assert types(events) == [ev.TransportCloseRequested]
    assert isinstance(events[0].error, exceptions.ConnectionBlockedTimeout)  # type: ignore[union-attr]


def test_unblocked_cancels_the_timeout() -> None:
    engine = make_engine(blocked_connection_timeout=5.0)
    broker = ScriptedBroker(engine)
    broker.open_connection()
    broker.send(0, pc.Connection.Blocked(reason="x"))
    engine.tick(50.0)
    assert types(broker.send(0, pc.Connection.Unblocked())) == [ev.ConnectionUnblocked]
    assert engine.next_deadline() is None
    assert engine.tick(100.0) == []


def test_update_secret_round_trip() -> None:
    engine = make_engine()
    broker = ScriptedBroker(engine)
    broker.open_connection()
    token = object()
    engine.update_secret("new-token", "refresh", token)
    [(channel, method)] = broker.received()
    assert channel == 0 and isinstance(method, pc.Connection.UpdateSecret)
    [replied] = broker.send(0, pc.Connection.UpdateSecretOk())
    assert isinstance(replied, ev.RpcReplied) and replied.token is token


def test_commands_before_open_raise() -> None:
    engine = make_engine()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        engine.allocate_channel_number()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        engine.update_secret("s", "r", None)
