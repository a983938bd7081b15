"""Events the protocol engine reports, named for what happened.

Theory of operation: ``ConnectionEngine.receive_data``, ``tick`` and
``connection_lost`` return a list of these in wire order.  Faces (the
callback Connection/Channel, BlockingConnection, Twisted, the thread-safe
Connection) turn them into user callbacks, return values or Deferreds; they
never reorder or filter them for protocol reasons.

Events are immutable NamedTuples rather than frozen dataclasses: the
per-message events sit on the hot path, and a NamedTuple is built in about
half the time of a frozen slotted dataclass.

``token`` fields carry the opaque object a face handed to the engine with the
command that caused the event (for example its reply callback); the engine
never calls or inspects tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from pika import frame, spec

# -- connection-level events ------------------------------------------------


class ConnectionTuned(NamedTuple):
    """Tune/TuneOk done: the negotiated limits (heartbeat 0 means disabled)."""

    channel_max: int
    frame_max: int
    heartbeat: int


class ConnectionOpened(NamedTuple):
    """Connection.OpenOk arrived; the connection is usable."""

    known_hosts: str


class ConnectionBlocked(NamedTuple):
    """The broker sent Connection.Blocked (resource alarm)."""

    frame: frame.Method[spec.Connection.Blocked]


class ConnectionUnblocked(NamedTuple):
    """The broker sent Connection.Unblocked."""

    frame: frame.Method[spec.Connection.Unblocked]


class TransportCloseRequested(NamedTuple):
    """The engine is done with the stream: flush ``data_to_send()`` and close it.

    ``error`` is what the connection will report once the adapter confirms the
    stream is gone with ``connection_lost``.
    """

    error: Exception


class ConnectionTerminated(NamedTuple):
    """The stream is gone and every channel has been reported closed.

    ``was_open`` tells whether OpenOk had arrived: faces report ``error`` to
    the close callbacks if so, and to the open-error callbacks otherwise.
    """

    error: Exception
    was_open: bool


# -- channel-level events ---------------------------------------------------


class ChannelOpened(NamedTuple):
    """Channel.OpenOk arrived for ``channel_number``."""

    channel_number: int
    frame: frame.Method[spec.Channel.OpenOk]


class ChannelClosed(NamedTuple):
    """The channel is closed; pending RPC tokens on it are dropped.

    ``error`` is ChannelClosedByClient, ChannelClosedByBroker or the
    connection's error.  The number stays reserved until the face calls
    ``ConnectionEngine.release_channel``.
    """

    channel_number: int
    error: Exception


class RpcReplied(NamedTuple):
    """The reply to a synchronous method sent with ``token`` arrived."""

    channel_number: int
    token: object
    frame: frame.Method[Any]


class MessageGot(NamedTuple):
    """Basic.GetOk with its content, for the basic_get sent with ``token``."""

    channel_number: int
    token: object
    method: spec.Basic.GetOk
    properties: spec.BasicProperties
    body: bytes


class DeliveryReceived(NamedTuple):
    """Basic.Deliver for an active consumer; ``token`` is the consumer's.

    ``active`` is the channel's live map of active consumers: a callback run
    earlier in the same batch of events may cancel this one, and the face
    then asks ``machine.give_back`` instead of handing the message over.
    """

    channel_number: int
    token: object
    method: spec.Basic.Deliver
    properties: spec.BasicProperties
    body: bytes
    active: dict[str, Any]
    machine: Any


class MessageReturned(NamedTuple):
    """Basic.Return: a mandatory publish could not be routed."""

    channel_number: int
    method: spec.Basic.Return
    properties: spec.BasicProperties
    body: bytes


class PublishConfirmed(NamedTuple):
    """Basic.Ack or Basic.Nack from the broker in confirm mode.

    ``first_tag``..``last_tag`` (inclusive) are the publish sequence numbers
    this frame settles; ``acked`` is False for a Nack.  ``returned`` is the
    Basic.Return that arrived just before this frame, if any: RabbitMQ sends
    the return of an unroutable mandatory publish right before its Ack, so
    that publish is ``last_tag``.
    """

    channel_number: int
    frame: frame.Method[Any]
    first_tag: int
    last_tag: int
    acked: bool
    returned: MessageReturned | None


class ConsumerCancelled(NamedTuple):
    """The broker cancelled a consumer (Basic.Cancel); it is already forgotten."""

    channel_number: int
    token: object
    frame: frame.Method[spec.Basic.Cancel]


class FlowChanged(NamedTuple):
    """The broker sent Channel.Flow (the engine has answered FlowOk)."""

    channel_number: int
    frame: frame.Method[spec.Channel.Flow]


class PublishOutcomeUnknown(NamedTuple):
    """Recovery only: publishes ``first_tag``..``last_tag`` were unsettled at the drop.

    The broker may or may not have them; this is not a Nack.  Emitted by
    ``connection_lost`` before the channel's ``ChannelClosed``.
    """

    channel_number: int
    first_tag: int
    last_tag: int


Event = (
    ConnectionTuned
    | ConnectionOpened
    | ConnectionBlocked
    | ConnectionUnblocked
    | TransportCloseRequested
    | ConnectionTerminated
    | ChannelOpened
    | ChannelClosed
    | RpcReplied
    | MessageGot
    | DeliveryReceived
    | MessageReturned
    | PublishConfirmed
    | ConsumerCancelled
    | FlowChanged
    | PublishOutcomeUnknown
)


# -- recovery events (from RecoveryMachine) ---------------------------------


class RecoveryStarted(NamedTuple):
    """The connection was lost with a recoverable ``error``; recovery begins."""

    error: BaseException | None


class RecoveryAttemptScheduled(NamedTuple):
    """Attempt number ``attempt`` will be due in ``delay`` seconds."""

    delay: float
    attempt: int


class RecoveryAttemptDue(NamedTuple):
    """Time to connect: attempt ``attempt`` to host number ``host_index``."""

    attempt: int
    host_index: int


class RecoveryAttemptFailed(NamedTuple):
    """Attempt ``attempt`` failed with ``error``."""

    error: BaseException | None
    attempt: int


class Recovered(NamedTuple):
    """The connection and its topology are back after ``attempts`` attempts.

    ``renamed_queues`` maps each server-named queue's old name to the name
    the broker gave it this time (say, an RPC client's ``reply_to`` queue).
    """

    attempts: int
    downtime: float
    renamed_queues: Mapping[str, str] = MappingProxyType({})


class RecoveryGaveUp(NamedTuple):
    """Recovery stopped for good after ``attempts`` attempts; ``error`` is the last one."""

    error: BaseException | None
    attempts: int


RecoveryEvent = (
    RecoveryStarted
    | RecoveryAttemptScheduled
    | RecoveryAttemptDue
    | RecoveryAttemptFailed
    | Recovered
    | RecoveryGaveUp
)
