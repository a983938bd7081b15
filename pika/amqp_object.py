"""Base classes of every AMQP object: classes, methods, properties and frames."""

from __future__ import annotations

from typing import ClassVar, TypeVar

__all__ = ["AMQPObject", "Class", "Method", "Properties"]

_M = TypeVar("_M", bound="Method")
_P = TypeVar("_P", bound="Properties")


class AMQPObject:
    """Common repr and field-value equality."""

    NAME: ClassVar[str] = "AMQPObject"
    INDEX: ClassVar[int | None] = None

    def __repr__(self) -> str:
        cls = type(self)
        # Only attributes that differ from the class-level value are interesting;
        # a None with no class counterpart is left out as well.
        items = [
            f"{key}={value}"
            for key, value in self.__dict__.items()
            if getattr(cls, key, None) != value
        ]
        if not items:
            return f"<{self.NAME}>"
        return f"<{self.NAME}({sorted(items)})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AMQPObject):
            return NotImplemented
        if not (isinstance(other, type(self)) or isinstance(self, type(other))):
            return False
        mine, theirs = self.__dict__, other.__dict__
        if mine == theirs:
            return True
        # Attributes may live on the class (unset properties default to None there).
        return all(
            getattr(self, key, None) == getattr(other, key, None)
            for key in mine.keys() | theirs.keys()
        )


class Class(AMQPObject):
    """An AMQP class (Connection, Channel, Basic...)."""

    NAME: ClassVar[str] = "Unextended Class"


class Method(AMQPObject):
    """An AMQP method; subclasses are generated in ``pika.spec``."""

    NAME: ClassVar[str] = "Unextended Method"
    synchronous: ClassVar[bool] = False
    # Reply classes a synchronous method may be answered with.
    valid_responses: ClassVar[list[type[Method]]] = []

    _properties: Properties
    _body: bytes

    def _set_content(self, properties: Properties, body: bytes) -> None:
        """Attach the content of a content-bearing method."""
        self._properties = properties
        self._body = body

    def get_properties(self) -> Properties:
        """Return the properties attached with ``_set_content``."""
        return self._properties

    def get_body(self) -> bytes:
        """Return the body attached with ``_set_content``."""
        return self._body

    def encode(self) -> list[bytes]:
        """Marshal the method fields."""
        raise NotImplementedError

    def decode(self: _M, encoded: bytes | bytearray, offset: int = 0) -> _M:
        """Fill the fields from ``encoded`` starting at ``offset``."""
        raise NotImplementedError


class Properties(AMQPObject):
    """Content properties; ``pika.spec.BasicProperties`` is the only kind."""

    NAME: ClassVar[str] = "Unextended Properties"

    def encode(self) -> list[bytes]:
        """Marshal the property flags and the values that are set."""
        raise NotImplementedError

    def decode(self: _P, encoded: bytes | bytearray, offset: int = 0) -> _P:
        """Fill the properties from ``encoded`` starting at ``offset``."""
        raise NotImplementedError
