"""Errors raised by the codec.

``MalformedFrameError`` is what the frame reader raises for bytes that can
never become a valid frame. It carries the AMQP reply code the engine should
close the connection with:

* 501 FRAME_ERROR: bad frame-end octet, oversize frame, unknown frame type,
  heartbeat on a non-zero channel;
* 502 SYNTAX_ERROR: a payload that cannot be decoded (truncated fields,
  bogus lengths, unknown field-table tags, excessive nesting);
* 540 NOT_IMPLEMENTED: a well-formed frame naming a method (or a content
  class) this client does not know. AMQP defines 540 as "functionality not
  implemented by the receiver", which is what an unknown method id is.

It subclasses ``InvalidFrameError`` so callers of the public decoders
(``pika.frame.decode_frame``) can keep catching pika's exception.
"""

from __future__ import annotations

from pika.exceptions import InvalidFrameError

FRAME_ERROR = 501
SYNTAX_ERROR = 502
NOT_IMPLEMENTED = 540


class MalformedFrameError(InvalidFrameError):
    """Inbound bytes that cannot be decoded; ``args == (reply_code, text)``."""

    def __init__(self, reply_code: int, text: str) -> None:
        super().__init__(reply_code, text)
        self.reply_code = reply_code
        self.text = text

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: ({self.reply_code}) {self.text!r}"


class FieldTypeError(TypeError, AssertionError):
    """A string field was given something other than ``str`` or ``bytes``.

    pika 1.x failed an ``assert`` here; subclassing both TypeError and
    AssertionError keeps old ``except AssertionError`` handlers working while
    giving new code the natural TypeError.
    """


def truncated(what: str) -> MalformedFrameError:
    """The error for a payload that ends before its fields do."""
    return MalformedFrameError(SYNTAX_ERROR, f"truncated or malformed {what} payload")
