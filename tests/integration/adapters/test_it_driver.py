"""The adapter driver itself: bounded waits, surfaced errors, skip-or-fail rules."""

from __future__ import annotations

import threading

import pytest

from tests.support import adapter_driver
from tests.support.adapter_driver import AdapterDriver, AdapterUnavailable, LoopTimeout


def test_run_until_is_bounded(driver: AdapterDriver) -> None:
    with pytest.raises(LoopTimeout, match="waiting for Godot"):
        driver.run_until(lambda: False, timeout=0.2, what="Godot")


def test_run_until_returns_once_the_predicate_holds(driver: AdapterDriver) -> None:
    fired: list[int] = []
    driver.call_later(0.05, lambda: fired.append(1))
    assert driver.run_until(lambda: bool(fired), timeout=5) < 5


def test_a_stray_stop_does_not_end_run_until_early(driver: AdapterDriver) -> None:
    fired: list[int] = []
    driver.stop()  # while the loop is not running
    driver.call_later(0.1, lambda: fired.append(1))
    driver.run_until(lambda: bool(fired), timeout=5)
    assert fired == [1]


def test_errors_in_scheduled_callbacks_fail_run_until(driver: AdapterDriver) -> None:
    def explode() -> None:
        raise ValueError("from a callback")

    driver.call_later(0, explode)
    with pytest.raises(ValueError, match="from a callback"):
        driver.run_until(lambda: False, timeout=5)


def test_errors_in_native_callbacks_fail_run_until(driver: AdapterDriver) -> None:
    """Exceptions the framework would only log (asyncio, tornado, gevent) still fail."""

    def explode() -> None:
        raise KeyError("unguarded")

    driver._native_call_later(0, explode)
    with pytest.raises(KeyError, match="unguarded"):
        driver.run_until(lambda: False, timeout=5)


def test_threadsafe_callbacks_run_on_the_loop_thread(driver: AdapterDriver) -> None:
    ran: list[int] = []
    thread = threading.Thread(
        target=lambda: driver.add_callback_threadsafe(lambda: ran.append(threading.get_ident()))
    )
    thread.start()
    thread.join(5)
    driver.run_until(lambda: bool(ran), timeout=5)
    assert ran == [threading.get_ident()]


def test_a_missing_adapter_module_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        adapter_driver._MODULES, "select", ("pika.adapters.no_such_adapter", "X", None)
    )
    with pytest.raises(AdapterUnavailable) as info:
        adapter_driver.load_connection_class("select")
    assert not info.value.framework_missing
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception, match="does not exist yet"):
        adapter_driver.require_adapter("select")


@pytest.mark.parametrize("ci", ["true", ""])
def test_a_missing_framework_fails_under_ci_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    entry = ("pika.adapters.select_connection", "SelectConnection", "no_such_framework_x")
    monkeypatch.setitem(adapter_driver._MODULES, "select", entry)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="no_such_framework_x is not installed"):
        adapter_driver.require_adapter("select")
