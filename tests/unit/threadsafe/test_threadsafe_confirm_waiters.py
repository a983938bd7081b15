"""ConfirmWaiters: settling publish futures from the engine's PublishConfirmed events."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika._engine import events as ev
from pika.adapters._threadsafe_confirms import ConfirmWaiters, ReturnedMessage

Future = concurrent.futures.Future


def _event(
    first: int, last: int, *, acked: bool = True, returned: ev.MessageReturned | None = None
) -> ev.PublishConfirmed:
    method: Any = (
        spec.Basic.Ack(delivery_tag=last, multiple=first != last)
        if acked
        else spec.Basic.Nack(delivery_tag=last, multiple=first != last)
    )
    return ev.PublishConfirmed(1, frame.Method(1, method), first, last, acked, returned)


def _track(waiters: ConfirmWaiters, *tags: int) -> dict[int, Future[Any]]:
    futures: dict[int, Future[Any]] = {}
    for tag in tags:
        futures[tag] = Future()
        waiters.track(tag, futures[tag], spec.BasicProperties(), f"body {tag}".encode())
    return futures


def test_an_ack_range_resolves_each_future_in_it() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 1, 2, 3, 4)
    event = _event(1, 3)
    waiters.settle(event)
    assert [futures[t].result(0) for t in (1, 2, 3)] == [event.frame] * 3
    assert not futures[4].done()
    assert len(waiters) == 1


def test_a_nack_fails_with_nack_error_naming_the_message() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 7)
    waiters.settle(_event(7, 7, acked=False))
    with pytest.raises(exceptions.NackError) as info:
        futures[7].result(0)
    [message] = info.value.messages
    assert isinstance(message, ReturnedMessage)
    assert isinstance(message.method, spec.Basic.Nack)
    assert message.body == b"body 7"


def test_a_return_before_the_ack_fails_only_the_last_tag() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 1, 2)
    returned_method = spec.Basic.Return(312, "NO_ROUTE", "", "nowhere")
    returned = ev.MessageReturned(1, returned_method, spec.BasicProperties(), b"body 2")
    waiters.settle(_event(1, 2, returned=returned))
    assert futures[1].result(0).method.delivery_tag == 2
    with pytest.raises(exceptions.UnroutableError) as info:
        futures[2].result(0)
    assert info.value.messages == [ReturnedMessage(returned_method, returned.properties, b"body 2")]


def test_tags_without_waiters_are_ignored_even_in_huge_ranges() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 5, 1_000_000)
    waiters.settle(_event(1, 999_999))
    assert futures[5].done()
    assert not futures[1_000_000].done()
    waiters.settle(_event(1_000_000, 1_000_000))
    assert futures[1_000_000].done()
    assert len(waiters) == 0
    waiters.settle(_event(3, 3))  # nothing waiting: no error


def test_fail_all_reports_the_close_reason() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 1, 2)
    reason = exceptions.ChannelClosedByBroker(404, "NOT_FOUND")
    waiters.fail_all(reason)
    assert all(f.exception(0) is reason for f in futures.values())
    assert len(waiters) == 0


def test_fail_range_fails_only_the_tags_in_it() -> None:
    waiters = ConfirmWaiters()
    futures = _track(waiters, 1, 2, 3, 5)
    error = exceptions.PublishOutcomeUnknownError(1, 2, 4)
    waiters.fail_range(2, 4, error)
    assert futures[2].exception(0) is error and futures[3].exception(0) is error
    assert not futures[1].done() and not futures[5].done()
    assert len(waiters) == 2


def test_span_is_the_lowest_and_highest_waiting_tag() -> None:
    waiters = ConfirmWaiters()
    assert waiters.span() is None
    _track(waiters, 4, 2, 9)
    assert waiters.span() == (2, 9)
    waiters.fail_range(1, 10, exceptions.PublishOutcomeUnknownError(1, 1, 10))
    assert waiters.span() is None
    waiters.fail_range(1, 10, exceptions.PublishOutcomeUnknownError(1, 1, 10))  # nothing left
