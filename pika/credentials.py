"""SASL credentials answered to the broker's Connection.Start.

``VALID_TYPES`` lists the classes ``ConnectionParameters.credentials``
accepts; append a custom class to it to use your own mechanism.
"""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = ["VALID_TYPES", "Credentials", "ExternalCredentials", "PlainCredentials"]

LOGGER = logging.getLogger(__name__)


class _StartMethod(Protocol):
    """The part of ``spec.Connection.Start`` a mechanism looks at."""

    @property
    def mechanisms(self) -> str | bytes: ...


class Credentials(Protocol):
    """What the connection needs from a credentials object (for type checking)."""

    @property
    def TYPE(self) -> str: ...

    erase_on_connect: bool

    def response_for(self, start: _StartMethod) -> tuple[str | None, bytes | None]: ...

    def erase_credentials(self) -> None: ...


def _offered(mechanism: str, start: _StartMethod) -> bool:
    """Return True if the broker lists ``mechanism`` among its SASL mechanisms."""
    offered = start.mechanisms
    if isinstance(offered, str):
        offered = offered.encode("utf-8")
    return mechanism.encode("ascii") in offered.split()


def _encode(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


class PlainCredentials:
    """Username and password sent with the PLAIN mechanism.

    With ``erase_on_connect`` the connection forgets them once they are sent.
    """

    TYPE = "PLAIN"

    def __init__(self, username: str, password: str, erase_on_connect: bool = False) -> None:
        self.username: str | None = username
        self.password: str | None = password
        self.erase_on_connect = erase_on_connect

    def __repr__(self) -> str:
        # Never show the password.
        return (
            f"<{type(self).__name__} username={self.username!r} "
            f"erase_on_connect={self.erase_on_connect!r}>"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PlainCredentials):
            return (
                self.username == other.username
                and self.password == other.password
                and self.erase_on_connect == other.erase_on_connect
            )
        return NotImplemented

    def response_for(self, start: _StartMethod) -> tuple[str | None, bytes | None]:
        """Return ``('PLAIN', b'\\0user\\0password')`` if the broker offers PLAIN,
        else ``(None, None)``.
        """
        if not _offered(self.TYPE, start):
            return None, None
        if self.username is None or self.password is None:
            raise ValueError(
                "PlainCredentials were erased after a previous connect "
                "(erase_on_connect=True); create new credentials to connect again"
            )
        return self.TYPE, b"\0" + _encode(self.username) + b"\0" + _encode(self.password)

    def erase_credentials(self) -> None:
        """Forget the username and password if ``erase_on_connect`` is set."""
        if self.erase_on_connect:
            LOGGER.info("Erasing stored credential values")
            self.username = None
            self.password = None


class ExternalCredentials:
    """The EXTERNAL mechanism: the broker authenticates by other means (a TLS
    client certificate, typically).
    """

    TYPE = "EXTERNAL"

    def __init__(self) -> None:
        self.erase_on_connect = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExternalCredentials):
            return self.erase_on_connect == other.erase_on_connect
        return NotImplemented

    def response_for(self, start: _StartMethod) -> tuple[str | None, bytes | None]:
        """Return ``('EXTERNAL', b'')`` if the broker offers EXTERNAL, else ``(None, None)``."""
        if not _offered(self.TYPE, start):
            return None, None
        return self.TYPE, b""

    def erase_credentials(self) -> None:
        """Nothing to erase: EXTERNAL carries no secret."""
        LOGGER.debug("Not supported by this Credentials type")


VALID_TYPES: list[type] = [PlainCredentials, ExternalCredentials]
