"""Automatic connection and topology recovery (opt-in; not in pika 1.4).

Enable it per connection with ``ConnectionParameters(recovery=True)`` (the
default ``RecoveryPolicy``), ``recovery=RecoveryPolicy(...)``, or the URL
query key ``recovery=true`` (with ``recovery_initial_delay``,
``recovery_max_delay``, ``recovery_max_attempts`` and
``recovery_publish_wait_timeout``).  Once an open connection is lost for a
reason other than the application's own close, the connection reconnects
with backoff (trying the hosts it was given in turn), re-opens every channel
with the same Python object, and replays what the application declared:
QoS, confirm and tx mode, exchanges, queues (server-named ones under a new
name, which ``Recovered.renamed_queues`` reports), bindings and consumers
(same tags and callbacks).

Observe it with ``connection.add_on_recovery_callback(callback)``:
``callback(connection, event)`` gets the events below.
"""

from __future__ import annotations

from pika._engine.events import (
    Recovered,
    RecoveryAttemptDue,
    RecoveryAttemptFailed,
    RecoveryAttemptScheduled,
    RecoveryEvent,
    RecoveryGaveUp,
    RecoveryStarted,
)
from pika._engine.policy import RecoveryPolicy
from pika._engine.records import (
    BindingRecord,
    ConsumerRecord,
    EntityRecord,
    ExchangeRecord,
    QueueRecord,
)
from pika.exceptions import ConnectionRecoveringError, PublishOutcomeUnknownError

__all__ = [
    "BindingRecord",
    "ConnectionRecoveringError",
    "ConsumerRecord",
    "EntityRecord",
    "ExchangeRecord",
    "PublishOutcomeUnknownError",
    "QueueRecord",
    "Recovered",
    "RecoveryAttemptDue",
    "RecoveryAttemptFailed",
    "RecoveryAttemptScheduled",
    "RecoveryEvent",
    "RecoveryGaveUp",
    "RecoveryPolicy",
    "RecoveryStarted",
]

for _cls in (
    Recovered,
    RecoveryAttemptDue,
    RecoveryAttemptFailed,
    RecoveryAttemptScheduled,
    RecoveryGaveUp,
    RecoveryStarted,
    BindingRecord,
    ConsumerRecord,
    ExchangeRecord,
    QueueRecord,
    RecoveryPolicy,
):
    _cls.__module__ = __name__
del _cls
