"""pika.callback.CallbackManager and helpers (API.md §9)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from pika import frame, spec
from pika.callback import CallbackManager, check_for_prefix_and_key, name_or_value, sanitize_prefix


class Recorder:
    """A callable that records its calls."""

    def __init__(self, name: str = "cb", log: list[Any] | None = None) -> None:
        self.name = name
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.log = log

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))
        if self.log is not None:
            self.log.append(self.name)


@pytest.fixture
def manager() -> CallbackManager:
    return CallbackManager()


# --- name_or_value --------------------------------------------------------------------


def test_name_or_value() -> None:
    deliver = spec.Basic.Deliver(consumer_tag="c", delivery_tag=1)
    assert name_or_value(spec.Basic.Ack) == "Basic.Ack"
    assert name_or_value(spec.Basic.Ack()) == "Basic.Ack"
    assert name_or_value(frame.Method(1, deliver)) == "Basic.Deliver"
    assert name_or_value(spec.Basic) == "Basic"
    assert name_or_value(1) == "1"
    assert name_or_value("_on_close") == "_on_close"
    assert name_or_value(None) == "None"
    assert name_or_value(int) == str(int)


def test_constants() -> None:
    assert CallbackManager.CALLS == "calls"
    assert CallbackManager.ARGUMENTS == "arguments"
    assert CallbackManager.CALLBACK == "callback"
    assert CallbackManager.ONE_SHOT == "one_shot"
    assert CallbackManager.ONLY_CALLER == "only"
    assert CallbackManager.DUPLICATE_WARNING % ("1", "k") == 'Duplicate callback found for "1:k"'


# --- add / pending / keys -------------------------------------------------------------


def test_add_returns_normalised_prefix_and_key(manager: CallbackManager) -> None:
    assert manager.add(1, spec.Basic.Ack, Recorder()) == ("1", "Basic.Ack")
    assert manager.add(prefix=2, key=spec.Basic.Nack(), callback=Recorder()) == ("2", "Basic.Nack")
    assert manager.pending("1", "Basic.Ack") == 1
    assert manager.pending(1, spec.Basic.Ack) == 1
    assert manager.pending(prefix=2, key="Basic.Nack") == 1


def test_pending_unknown_is_none(manager: CallbackManager) -> None:
    assert manager.pending(1, "k") is None
    manager.add(1, "k", Recorder())
    assert manager.pending(1, "other") is None
    assert manager.pending(2, "k") is None


def test_keys(manager: CallbackManager) -> None:
    assert manager.keys(1) == []
    manager.add(1, "a", Recorder())
    manager.add(1, spec.Channel.CloseOk, Recorder())
    manager.add(2, "z", Recorder())
    assert manager.keys(1) == ["a", "Channel.CloseOk"]
    assert manager.keys("2") == ["z"]


def test_distinct_callbacks_are_separate_entries(manager: CallbackManager) -> None:
    manager.add(1, "k", Recorder("a"))
    manager.add(1, "k", Recorder("b"))
    assert manager.pending(1, "k") == 2


def test_duplicate_one_shot_increments_call_count(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback)
    manager.add(1, "k", callback)
    assert manager.pending(1, "k") == 1
    assert manager.process(1, "k", None) is True
    assert len(callback.calls) == 1
    assert manager.pending(1, "k") == 1
    assert manager.process(1, "k", None) is True
    assert len(callback.calls) == 2
    assert manager.pending(1, "k") is None
    assert manager.process(1, "k", None) is False


def test_duplicate_persistent_is_ignored_with_a_warning(
    manager: CallbackManager, caplog: pytest.LogCaptureFixture
) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, one_shot=False)
    with caplog.at_level(logging.WARNING, logger="pika.callback"):
        assert manager.add(1, "k", callback, one_shot=False) == ("1", "k")
    assert 'Duplicate callback found for "1:k"' in caplog.text
    assert manager.pending(1, "k") == 1
    manager.process(1, "k", None)
    assert len(callback.calls) == 1


def test_same_callback_with_other_filters_is_a_new_entry(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback)
    manager.add(1, "k", callback, arguments={"a": 1})
    manager.add(1, "k", callback, only_caller="me")
    assert manager.pending(1, "k") == 3


# --- process --------------------------------------------------------------------------


def test_process_passes_arguments_and_keeps_persistent(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, one_shot=False)
    assert manager.process(1, "k", "caller", "x", 2, flag=True) is True
    assert manager.process("1", "k", "caller") is True
    assert callback.calls == [(("x", 2), {"flag": True}), ((), {})]
    assert manager.pending(1, "k") == 1


def test_process_unknown_returns_false(manager: CallbackManager) -> None:
    assert manager.process(1, "k", None) is False
    manager.add(1, "k", Recorder())
    assert manager.process(1, "other", None) is False
    assert manager.process(9, "k", None) is False


def test_process_runs_in_registration_order(manager: CallbackManager) -> None:
    log: list[str] = []
    for name in "abc":
        manager.add(1, "k", Recorder(name, log), one_shot=name == "b")
    manager.process(1, "k", None)
    assert log == ["a", "b", "c"]
    manager.process(1, "k", None)
    assert log == ["a", "b", "c", "a", "c"]


def test_one_shot_is_used_before_any_call(manager: CallbackManager) -> None:
    seen: list[int | None] = []

    def check() -> None:
        seen.append(manager.pending(1, "k"))

    manager.add(1, "k", check)
    manager.process(1, "k", None)
    assert seen == [None]


def test_callback_added_during_process_runs_next_time(manager: CallbackManager) -> None:
    late = Recorder("late")

    def first() -> None:
        manager.add(1, "k", late)

    manager.add(1, "k", first)
    manager.process(1, "k", None)
    assert late.calls == []
    manager.process(1, "k", None)
    assert len(late.calls) == 1


def test_exception_is_logged_reraised_and_skips_the_rest(
    manager: CallbackManager, caplog: pytest.LogCaptureFixture
) -> None:
    after = Recorder("after")

    def boom() -> None:
        raise RuntimeError("boom")

    manager.add(1, "k", boom)
    manager.add(1, "k", after)
    with caplog.at_level(logging.ERROR, logger="pika.callback"), pytest.raises(RuntimeError):
        manager.process(1, "k", None)
    assert after.calls == []
    assert "failed" in caplog.text and "boom" in caplog.text
    # both one-shots were used up before the first call
    assert manager.pending(1, "k") is None


def test_only_caller(manager: CallbackManager) -> None:
    owner, other = object(), object()
    mine, anyone = Recorder("mine"), Recorder("anyone")
    manager.add(1, "k", mine, one_shot=False, only_caller=owner)
    manager.add(1, "k", anyone, one_shot=False)
    manager.process(1, "k", other)
    assert (len(mine.calls), len(anyone.calls)) == (0, 1)
    manager.process(1, "k", owner)
    assert (len(mine.calls), len(anyone.calls)) == (1, 2)


def test_unmatched_one_shot_is_not_used_up(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, only_caller="owner")
    manager.process(1, "k", "stranger")
    assert manager.pending(1, "k") == 1
    manager.process(1, "k", "owner")
    assert len(callback.calls) == 1
    assert manager.pending(1, "k") is None


def test_arguments_filter_on_method_frame(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, spec.Basic.Deliver, callback, one_shot=False, arguments={"consumer_tag": "a"})
    for tag in ("a", "b", "a"):
        method = spec.Basic.Deliver(consumer_tag=tag, delivery_tag=1)
        manager.process(1, spec.Basic.Deliver, None, frame.Method(1, method))
    assert len(callback.calls) == 2


def test_arguments_filter_on_plain_object_and_dict(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, one_shot=False, arguments={"queue": "q"})
    manager.process(1, "k", None, spec.Queue.DeclareOk(queue="q"))
    manager.process(1, "k", None, spec.Queue.DeclareOk(queue="other"))
    manager.process(1, "k", None, {"queue": "q", "extra": 1})
    manager.process(1, "k", None, {"queue": "other"})
    manager.process(1, "k", None, object())  # lacks the attribute
    manager.process(1, "k", None)  # no argument to filter on
    assert len(callback.calls) == 2


def test_arguments_filter_multiple_fields(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, one_shot=False, arguments={"a": 1, "b": 2})
    manager.process(1, "k", None, {"a": 1, "b": 2})
    manager.process(1, "k", None, {"a": 1, "b": 3})
    manager.process(1, "k", None, {"a": 1})
    assert len(callback.calls) == 1


# --- removal --------------------------------------------------------------------------


def test_remove_one_callback(manager: CallbackManager) -> None:
    keep, drop = Recorder("keep"), Recorder("drop")
    manager.add(1, "k", keep)
    manager.add(1, "k", drop)
    assert manager.remove(1, "k", drop) is True
    assert manager.pending(1, "k") == 1
    manager.process(1, "k", None)
    assert (len(keep.calls), len(drop.calls)) == (1, 0)


def test_remove_absent_callback_still_true_when_key_exists(manager: CallbackManager) -> None:
    manager.add(1, "k", Recorder())
    assert manager.remove(1, "k", Recorder()) is True
    assert manager.pending(1, "k") == 1


def test_remove_unknown_prefix_or_key_is_false(manager: CallbackManager) -> None:
    assert manager.remove(1, "k") is False
    manager.add(1, "k", Recorder())
    assert manager.remove(1, "x") is False
    assert manager.remove(2, "k", Recorder()) is False


def test_remove_without_callback_removes_everything_there(manager: CallbackManager) -> None:
    manager.add(1, "k", Recorder("a"))
    manager.add(1, "k", Recorder("b"), one_shot=False)
    manager.add(1, "other", Recorder())
    assert manager.remove(1, "k") is True
    assert manager.pending(1, "k") is None
    assert manager.keys(1) == ["other"]


def test_remove_last_entry_cleans_up_prefix(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback)
    manager.remove(1, "k", callback)
    assert manager.keys(1) == []
    assert manager.cleanup(1) is False


def test_remove_respects_argument_filter(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback, arguments={"consumer_tag": "a"})
    manager.remove(1, "k", callback)  # no arguments given: the filtered entry stays
    assert manager.pending(1, "k") == 1
    manager.remove(1, "k", callback, {"consumer_tag": "b"})
    assert manager.pending(1, "k") == 1
    manager.remove(1, "k", callback, {"consumer_tag": "a"})
    assert manager.pending(1, "k") is None


def test_remove_unfiltered_entry_ignores_arguments(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, "k", callback)
    manager.remove(1, "k", callback, {"anything": 1})
    assert manager.pending(1, "k") is None


def test_remove_with_keywords(manager: CallbackManager) -> None:
    callback = Recorder()
    manager.add(1, spec.Basic.Ack, callback)
    assert manager.remove(prefix=1, key=spec.Basic.Ack, callback_value=callback) is True
    assert manager.pending(1, spec.Basic.Ack) is None


def test_remove_matching(manager: CallbackManager) -> None:
    a, b, c = Recorder("a"), Recorder("b"), Recorder("c")
    for callback in (a, b, c):
        manager.add(1, "k", callback, one_shot=False)
    assert manager.remove_matching(1, "k", lambda cb: cb.name in ("a", "c")) is True
    manager.process(1, "k", None)
    assert [len(cb.calls) for cb in (a, b, c)] == [0, 1, 0]
    assert manager.remove_matching(1, "k", lambda cb: True) is True
    assert manager.keys(1) == []
    assert manager.remove_matching(1, "k", lambda cb: True) is False


def test_remove_all(manager: CallbackManager) -> None:
    manager.add(1, "k", Recorder("a"))
    manager.add(1, "k", Recorder("b"))
    manager.add(1, "j", Recorder("c"))
    assert manager.remove_all(1, "k") is True
    assert manager.pending(1, "k") is None
    assert manager.pending(1, "j") == 1
    assert manager.remove_all(1, "k") is False
    manager.remove_all(1, "j")
    assert manager.keys(1) == []


def test_cleanup(manager: CallbackManager) -> None:
    manager.add(1, "a", Recorder())
    manager.add(1, "b", Recorder())
    manager.add(2, "a", Recorder())
    assert manager.cleanup(1) is True
    assert manager.keys(1) == []
    assert manager.pending(2, "a") == 1
    assert manager.cleanup("1") is False


def test_clear(manager: CallbackManager) -> None:
    manager.add(1, "a", Recorder())
    manager.add(2, "b", Recorder())
    manager.clear()
    assert manager.keys(1) == [] and manager.keys(2) == []
    assert manager.process(1, "a", None) is False


# --- the decorators on their own ------------------------------------------------------


class Registry:
    def __init__(self) -> None:
        self._stack: dict[str, dict[str, list[Any]]] = {"1": {"Basic.Ack": []}}

    @sanitize_prefix
    def echo(self, prefix: Any, key: Any = None) -> tuple[Any, Any]:
        return prefix, key

    @check_for_prefix_and_key
    def present(self, prefix: Any, key: Any) -> str:
        return "ran"


def test_sanitize_prefix_positional_and_keyword() -> None:
    registry = Registry()
    assert registry.echo(1, spec.Basic.Ack) == ("1", "Basic.Ack")
    assert registry.echo(prefix=1, key=spec.Basic.Ack()) == ("1", "Basic.Ack")
    assert registry.echo(1, key=2) == ("1", "2")
    assert registry.echo(3) == ("3", None)
    assert Registry.echo.__name__ == "echo"


def test_check_for_prefix_and_key() -> None:
    registry = Registry()
    run: Callable[..., Any] = registry.present
    assert run(1, spec.Basic.Ack) == "ran"
    assert run(prefix="1", key="Basic.Ack") == "ran"
    assert run(1, "Basic.Nack") is False
    assert run(2, spec.Basic.Ack) is False
