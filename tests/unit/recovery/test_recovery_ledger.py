"""TopologyLedger: what is recorded, what leaves, renames, and the replay plan."""

from __future__ import annotations

import pytest
from pamqp import commands as pc

from pika import spec
from pika._engine.ledger import TopologyLedger, renamed
from pika._engine.records import (
    BindingRecord,
    ConfirmRecord,
    ConsumerRecord,
    ExchangeRecord,
    QosRecord,
    QueueRecord,
    TxRecord,
)
from tests.support.scripted_broker import ScriptedBroker, make_engine

DECLARE_OK = spec.Queue.DeclareOk


def declare_queue(ledger: TopologyLedger, name: str, channel: int = 1, **kw: object) -> None:
    ledger.record(channel, spec.Queue.Declare(queue=name, **kw), DECLARE_OK(queue=name))  # type: ignore[arg-type]


def bind(
    ledger: TopologyLedger, queue: str, exchange: str, key: str = "", channel: int = 1
) -> None:
    ledger.record(channel, spec.Queue.Bind(queue=queue, exchange=exchange, routing_key=key), None)


def consume(ledger: TopologyLedger, tag: str, queue: str, channel: int = 1) -> object:
    token = object()
    method = spec.Basic.Consume(queue=queue, consumer_tag=tag)
    ledger.record(channel, method, spec.Basic.ConsumeOk(consumer_tag=tag), token)
    return token


def test_records_declares_with_their_arguments() -> None:
    ledger = TopologyLedger()
    args: dict[str, object] = {"alternate-exchange": "ae"}
    ledger.record(
        2,
        spec.Exchange.Declare(exchange="x", type="topic", durable=True, arguments=args),
        spec.Exchange.DeclareOk(),
    )
    args["mutated"] = True  # the ledger keeps a copy
    declare_queue(ledger, "q", durable=True, arguments={"x-queue-type": "quorum"})
    assert ledger.exchanges == {
        "x": ExchangeRecord(2, "x", "topic", True, False, False, {"alternate-exchange": "ae"})
    }
    assert ledger.queues == {
        "q": QueueRecord(1, "q", True, False, False, False, {"x-queue-type": "quorum"})
    }


def test_passive_declares_and_unknown_methods_are_not_recorded() -> None:
    ledger = TopologyLedger()
    ledger.record(1, spec.Exchange.Declare(exchange="x", passive=True), spec.Exchange.DeclareOk())
    ledger.record(1, spec.Queue.Declare(queue="q", passive=True), DECLARE_OK(queue="q"))
    ledger.record(1, spec.Queue.Purge(queue="q"), spec.Queue.PurgeOk(message_count=0))
    assert ledger.recovery_plan() == []


def test_server_named_queue_takes_the_name_from_declare_ok() -> None:
    ledger = TopologyLedger()
    ledger.record(1, spec.Queue.Declare(queue="", exclusive=True), DECLARE_OK(queue="amq.gen-A"))
    [record] = ledger.queues.values()
    assert record.name == "amq.gen-A" and record.server_named and record.exclusive
    assert record.method().queue == ""  # replays as a fresh server-named queue


def test_nowait_server_named_declare_cannot_be_recorded(caplog: pytest.LogCaptureFixture) -> None:
    ledger = TopologyLedger()
    ledger.record(1, spec.Queue.Declare(queue="", nowait=True), None)
    assert ledger.queues == {} and "server-named" in caplog.text


def test_bindings_are_deduplicated_and_unbound() -> None:
    ledger = TopologyLedger()
    bind(ledger, "q", "x", "a")
    bind(ledger, "q", "x", "a", channel=2)  # same binding from another channel
    bind(ledger, "q", "x", "b")
    ledger.record(1, spec.Exchange.Bind(destination="x", source="up", routing_key="#"), None)
    assert len(ledger.bindings) == 3
    ledger.record(1, spec.Queue.Unbind(queue="q", exchange="x", routing_key="a"), None)
    ledger.record(1, spec.Exchange.Unbind(destination="x", source="up", routing_key="#"), None)
    assert ledger.bindings == [BindingRecord(1, "q", "x", "b", False, {})]


def test_unbind_matches_arguments() -> None:
    ledger = TopologyLedger()
    method = spec.Queue.Bind(queue="q", exchange="h", arguments={"x-match": "all"})
    ledger.record(1, method, None)
    ledger.record(1, spec.Queue.Unbind(queue="q", exchange="h"), None)
    assert len(ledger.bindings) == 1
    ledger.record(1, spec.Queue.Unbind(queue="q", exchange="h", arguments={"x-match": "all"}), None)
    assert ledger.bindings == []


def test_deleting_a_queue_removes_its_bindings_and_consumers() -> None:
    ledger = TopologyLedger()
    declare_queue(ledger, "q")
    declare_queue(ledger, "other")
    bind(ledger, "q", "x")
    bind(ledger, "other", "x")
    consume(ledger, "c1", "q", channel=1)
    consume(ledger, "c2", "q", channel=2)
    consume(ledger, "c3", "other", channel=2)
    ledger.record(1, spec.Queue.Delete(queue="q"), spec.Queue.DeleteOk(message_count=0))
    assert list(ledger.queues) == ["other"]
    assert [b.destination for b in ledger.bindings] == ["other"]
    assert [c.tag for c in ledger.consumers()] == ["c3"]


def test_deleting_an_exchange_removes_bindings_that_name_it() -> None:
    ledger = TopologyLedger()
    for name in ("x", "up", "keep"):
        ledger.record(1, spec.Exchange.Declare(exchange=name), spec.Exchange.DeclareOk())
    bind(ledger, "q", "x")
    bind(ledger, "q", "keep")
    ledger.record(1, spec.Exchange.Bind(destination="x", source="up"), None)
    ledger.record(1, spec.Exchange.Bind(destination="keep", source="x"), None)
    ledger.record(1, spec.Exchange.Delete(exchange="x"), spec.Exchange.DeleteOk())
    assert list(ledger.exchanges) == ["up", "keep"]
    assert ledger.bindings == [BindingRecord(1, "q", "keep", "", False, {})]


def test_consumers_leave_on_cancel_and_auto_delete_queues_follow() -> None:
    ledger = TopologyLedger()
    declare_queue(ledger, "ad", auto_delete=True)
    declare_queue(ledger, "durable")
    bind(ledger, "ad", "x")
    consume(ledger, "a", "ad")
    consume(ledger, "b", "ad", channel=2)
    consume(ledger, "d", "durable")
    ledger.record(1, spec.Basic.Cancel(consumer_tag="a"), spec.Basic.CancelOk(consumer_tag="a"))
    assert "ad" in ledger.queues  # one consumer is left
    ledger.forget_consumer(2, "b")  # broker-cancelled
    assert list(ledger.queues) == ["durable"] and ledger.bindings == []
    ledger.record(1, spec.Basic.Cancel(consumer_tag="d"), None)
    assert ledger.consumers() == [] and list(ledger.queues) == ["durable"]


def test_auto_delete_exchange_goes_with_its_last_binding() -> None:
    ledger = TopologyLedger()
    ledger.record(
        1, spec.Exchange.Declare(exchange="ax", auto_delete=True), spec.Exchange.DeclareOk()
    )
    declare_queue(ledger, "q1")
    declare_queue(ledger, "q2")
    bind(ledger, "q1", "ax")
    bind(ledger, "q2", "ax")
    ledger.record(1, spec.Queue.Unbind(queue="q1", exchange="ax"), None)
    assert "ax" in ledger.exchanges
    ledger.record(1, spec.Queue.Delete(queue="q2"), spec.Queue.DeleteOk(message_count=0))
    assert "ax" not in ledger.exchanges


def test_channel_settings_and_forget_channel() -> None:
    ledger = TopologyLedger()
    ledger.record(1, spec.Basic.Qos(prefetch_count=10), spec.Basic.QosOk())
    ledger.record(1, spec.Basic.Qos(prefetch_count=50, global_qos=True), spec.Basic.QosOk())
    ledger.record(1, spec.Basic.Qos(prefetch_count=20), spec.Basic.QosOk())  # replaces the first
    ledger.record(1, spec.Confirm.Select(), spec.Confirm.SelectOk())
    ledger.record(3, spec.Tx.Select(), spec.Tx.SelectOk())
    declare_queue(ledger, "ad", auto_delete=True)
    consume(ledger, "c", "ad", channel=3)
    assert ledger.recovery_plan(topology=False) == [
        QosRecord(1, 0, 50, True),
        QosRecord(1, 0, 20, False),
        ConfirmRecord(1),
        TxRecord(3),
    ]
    ledger.forget_channel(3)
    assert ledger.recovery_plan() == [
        QosRecord(1, 0, 50, True),
        QosRecord(1, 0, 20, False),
        ConfirmRecord(1),
    ]  # and the auto-delete queue left with its only consumer


def build_topology() -> tuple[TopologyLedger, object]:
    ledger = TopologyLedger()
    token = consume(ledger, "c2", "amq.gen-1", channel=2)  # consumers recorded first...
    ledger.record(2, spec.Basic.Qos(prefetch_count=5), spec.Basic.QosOk())
    ledger.record(1, spec.Queue.Declare(queue="", exclusive=True), DECLARE_OK(queue="amq.gen-1"))
    bind(ledger, "amq.gen-1", "x", "k")
    ledger.record(1, spec.Exchange.Bind(destination="x", source="up"), None)
    ledger.record(1, spec.Exchange.Declare(exchange="x"), spec.Exchange.DeclareOk())
    ledger.record(1, spec.Confirm.Select(), None)
    consume(ledger, "c1", "amq.gen-1", channel=1)
    return ledger, token


def test_plan_order_settings_exchanges_queues_bindings_consumers() -> None:
    ledger, token = build_topology()
    plan = ledger.recovery_plan()
    assert [type(r).__name__ for r in plan] == [
        "ConfirmRecord",
        "QosRecord",
        "ExchangeRecord",
        "QueueRecord",
        "BindingRecord",
        "BindingRecord",
        "ConsumerRecord",
        "ConsumerRecord",
    ]
    assert [r.channel_number for r in plan] == [1, 2, 1, 1, 1, 1, 1, 2]
    assert plan[4].to_exchange and not plan[5].to_exchange  # type: ignore[union-attr]
    last = plan[-1]
    assert isinstance(last, ConsumerRecord) and last.token is token
    methods = [r.method() for r in plan]
    assert isinstance(methods[-1], spec.Basic.Consume) and methods[-1].consumer_tag == "c2"
    assert methods[0] is not plan[0].method()  # fresh objects, safe to mutate


def test_filter_excludes_entities_but_not_channel_settings() -> None:
    ledger, _ = build_topology()
    seen: list[object] = []

    def keep(record: object) -> bool:
        seen.append(record)
        return not isinstance(record, (QueueRecord, ConsumerRecord))

    plan = ledger.recovery_plan(keep)
    assert [type(r).__name__ for r in plan] == [
        "ConfirmRecord",
        "QosRecord",
        "ExchangeRecord",
        "BindingRecord",
        "BindingRecord",
    ]
    assert not any(isinstance(r, (QosRecord, ConfirmRecord)) for r in seen)


def test_rename_queue_moves_bindings_and_consumers() -> None:
    ledger, _ = build_topology()
    plan = ledger.recovery_plan()
    ledger.rename_queue("amq.gen-1", "amq.gen-2")
    assert list(ledger.queues) == ["amq.gen-2"] and ledger.queues["amq.gen-2"].server_named
    assert {c.queue for c in ledger.consumers()} == {"amq.gen-2"}
    assert [b.destination for b in ledger.bindings] == ["amq.gen-2", "x"]
    assert renamed(plan, "amq.gen-1", "amq.gen-2") == ledger.recovery_plan()


def test_rename_after_the_replay_recorded_the_new_queue() -> None:
    ledger, _ = build_topology()
    # The replayed declare is recorded under its new name before the face renames.
    ledger.record(1, spec.Queue.Declare(queue="", exclusive=True), DECLARE_OK(queue="amq.gen-2"))
    bind(ledger, "amq.gen-2", "x", "k")
    ledger.rename_queue("amq.gen-1", "amq.gen-2")
    assert list(ledger.queues) == ["amq.gen-2"]
    assert [b.destination for b in ledger.bindings] == ["amq.gen-2", "x"]


def test_binding_methods_rebuild_the_original() -> None:
    queue_bind = BindingRecord(1, "q", "x", "rk", False, {"a": 1}).method()
    assert isinstance(queue_bind, spec.Queue.Bind)
    assert (queue_bind.queue, queue_bind.exchange, queue_bind.routing_key) == ("q", "x", "rk")
    ex_bind = BindingRecord(1, "d", "s", "rk", True, {}).method()
    assert isinstance(ex_bind, spec.Exchange.Bind)
    assert (ex_bind.destination, ex_bind.source) == ("d", "s")


# -- through the engine, byte by byte ----------------------------------------


@pytest.fixture(params=[None, 1], ids=["whole", "bytewise"])
def broker(request: pytest.FixtureRequest) -> ScriptedBroker:
    engine = make_engine()
    engine.ledger = TopologyLedger()
    broker = ScriptedBroker(engine, request.param)
    broker.open_connection()
    return broker


def test_engine_records_only_what_the_broker_accepted(broker: ScriptedBroker) -> None:
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Exchange.Declare(exchange="x", type="fanout"), None, nowait=False)
    channel.call(spec.Queue.Declare(queue="", exclusive=True), None, nowait=False)
    channel.call(spec.Queue.Declare(queue="nope", passive=True), None, nowait=False)
    broker.received()
    assert ledger.exchanges == {}  # nothing until DeclareOk
    broker.send(channel.number, pc.Exchange.DeclareOk())
    assert list(ledger.exchanges) == ["x"]
    broker.send(channel.number, pc.Queue.DeclareOk("amq.gen-Z", 0, 0))
    assert ledger.queues["amq.gen-Z"].server_named
    broker.send(channel.number, pc.Channel.Close(404, "NOT_FOUND", 50, 10))
    assert list(ledger.queues) == ["amq.gen-Z"] and ledger.channels == {}


def test_engine_records_nowait_when_sent_and_consumers_when_requested(
    broker: ScriptedBroker,
) -> None:
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Queue.Bind(queue="q", exchange="x"), None, nowait=True)
    channel.call(spec.Confirm.Select(), None, nowait=True)
    assert len(ledger.bindings) == 1 and ledger.channels[channel.number].confirm
    token = object()
    tag = channel.consume("q", "t1", False, True, {"x-priority": 5}, token, None)
    broker.received()
    # The application consumes from the call on: a drop before ConsumeOk keeps it.
    expected = [ConsumerRecord(channel.number, "t1", "q", False, True, token, {"x-priority": 5})]
    assert ledger.consumers() == expected
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    assert ledger.consumers() == expected
    broker.send(channel.number, pc.Basic.Cancel(consumer_tag=tag))  # broker cancel
    assert ledger.consumers() == []


def test_engine_forgets_a_consumer_cancelled_before_consume_ok(broker: ScriptedBroker) -> None:
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    channel.consume("q", "t1", False, False, None, object(), None)
    channel.cancel("t1", None, nowait=True)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag="t1"))
    assert ledger.consumers() == []


def test_client_channel_close_forgets_the_channel(broker: ScriptedBroker) -> None:
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Basic.Qos(prefetch_count=3), None, nowait=False)
    broker.received()
    broker.send(channel.number, pc.Basic.QosOk())
    assert ledger.recovery_plan() == [QosRecord(channel.number, 0, 3, False)]
    channel.close(200, "bye")
    broker.received()
    broker.send(channel.number, pc.Channel.CloseOk())
    assert ledger.recovery_plan() == []


def test_connection_loss_keeps_the_ledger(broker: ScriptedBroker) -> None:
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Confirm.Select(), None, nowait=False)
    broker.received()
    broker.send(channel.number, pc.Confirm.SelectOk())
    broker.engine.connection_lost(None)
    assert ledger.recovery_plan() == [ConfirmRecord(channel.number)]


def test_ledger_is_off_by_default() -> None:
    broker = ScriptedBroker(make_engine())
    broker.open_connection()
    channel = broker.engine.channel(broker.open_channel())
    assert channel.ledger is None and channel.tags is None


def test_channel_setting_records_rebuild_their_methods() -> None:
    qos = QosRecord(1, 0, 7, True).method()
    assert (qos.prefetch_size, qos.prefetch_count, qos.global_qos) == (0, 7, True)
    assert isinstance(ConfirmRecord(1).method(), spec.Confirm.Select)
    assert isinstance(TxRecord(1).method(), spec.Tx.Select)
