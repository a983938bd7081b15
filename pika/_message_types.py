"""Type aliases for the message tuples the blocking-style faces return."""

from __future__ import annotations

from pika import spec

#: A delivery as (method, properties, body).
Message = tuple[spec.Basic.Deliver, spec.BasicProperties, bytes]
#: A basic_get result as (method, properties, body).
GetResult = tuple[spec.Basic.GetOk, spec.BasicProperties, bytes]
#: What basic_get / consume() give when there is no message.
NoMessage = tuple[None, None, None]
