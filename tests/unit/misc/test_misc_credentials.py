"""pika.credentials (API.md §10)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from pika import credentials
from pika.credentials import ExternalCredentials, PlainCredentials


@dataclass
class Start:
    """Stands in for spec.Connection.Start: only ``mechanisms`` is read."""

    mechanisms: str | bytes


@pytest.mark.parametrize(
    "mechanisms", ["PLAIN", "AMQPLAIN PLAIN", b"PLAIN AMQPLAIN", b"EXTERNAL PLAIN AMQPLAIN"]
)
def test_plain_response_when_offered(mechanisms: str | bytes) -> None:
    creds = PlainCredentials("user", "pass")
    assert creds.response_for(Start(mechanisms)) == ("PLAIN", b"\0user\0pass")


def test_plain_response_encodes_utf8() -> None:
    creds = PlainCredentials("\u00fcser", "p\u00e4ss\u20ac")
    assert creds.response_for(Start("PLAIN")) == (
        "PLAIN",
        b"\0" + "\u00fcser".encode() + b"\0" + "p\u00e4ss\u20ac".encode(),
    )


def test_plain_response_accepts_bytes_values() -> None:
    creds = PlainCredentials(b"u", b"p")  # type: ignore[arg-type]
    assert creds.response_for(Start("PLAIN")) == ("PLAIN", b"\0u\0p")


@pytest.mark.parametrize("mechanisms", ["", "AMQPLAIN", "EXTERNAL", "PLAINX AMQPLAIN", b"XPLAIN"])
def test_plain_response_when_not_offered(mechanisms: str | bytes) -> None:
    assert PlainCredentials("u", "p").response_for(Start(mechanisms)) == (None, None)


def test_plain_attributes_and_type() -> None:
    creds = PlainCredentials("u", "p")
    assert (creds.username, creds.password, creds.erase_on_connect) == ("u", "p", False)
    assert PlainCredentials.TYPE == "PLAIN"
    assert PlainCredentials("u", "p", True).erase_on_connect is True


def test_erase_credentials_only_when_asked() -> None:
    keep = PlainCredentials("u", "p")
    keep.erase_credentials()
    assert (keep.username, keep.password) == ("u", "p")
    erase = PlainCredentials("u", "p", erase_on_connect=True)
    erase.erase_credentials()
    assert (erase.username, erase.password) == (None, None)


def test_erased_credentials_cannot_answer_again() -> None:
    creds = PlainCredentials("u", "p", erase_on_connect=True)
    assert creds.response_for(Start("PLAIN"))[0] == "PLAIN"
    creds.erase_credentials()
    with pytest.raises(ValueError, match="erased"):
        creds.response_for(Start("PLAIN"))
    assert creds.response_for(Start("AMQPLAIN")) == (None, None)


def test_plain_equality() -> None:
    base = PlainCredentials("u", "p")
    assert base == PlainCredentials("u", "p")
    assert (base != PlainCredentials("u", "p")) is False
    assert base != PlainCredentials("x", "p")
    assert base != PlainCredentials("u", "x")
    assert base != PlainCredentials("u", "p", erase_on_connect=True)
    assert base.__eq__(("u", "p")) is NotImplemented
    assert base != ("u", "p")
    assert base != ExternalCredentials()


def test_plain_repr_hides_password() -> None:
    text = repr(PlainCredentials("someone", "s3cret"))
    assert "someone" in text
    assert "s3cret" not in text
    assert "s3cret" not in str(PlainCredentials("someone", "s3cret"))


def test_plain_deepcopy() -> None:
    creds = PlainCredentials("u", "p", True)
    clone = copy.deepcopy(creds)
    assert clone == creds and clone is not creds


@pytest.mark.parametrize("mechanisms", ["EXTERNAL", "PLAIN EXTERNAL", b"AMQPLAIN EXTERNAL"])
def test_external_response_when_offered(mechanisms: str | bytes) -> None:
    assert ExternalCredentials().response_for(Start(mechanisms)) == ("EXTERNAL", b"")


@pytest.mark.parametrize("mechanisms", ["PLAIN", "", b"AMQPLAIN"])
def test_external_response_when_not_offered(mechanisms: str | bytes) -> None:
    assert ExternalCredentials().response_for(Start(mechanisms)) == (None, None)


def test_external_basics() -> None:
    creds = ExternalCredentials()
    assert ExternalCredentials.TYPE == "EXTERNAL"
    assert creds.erase_on_connect is False
    creds.erase_credentials()
    assert creds.response_for(Start("EXTERNAL")) == ("EXTERNAL", b"")
    assert creds == ExternalCredentials()
    assert creds.__eq__(PlainCredentials("u", "p")) is NotImplemented
    assert creds != PlainCredentials("u", "p")


def test_valid_types() -> None:
    valid = credentials.VALID_TYPES
    assert valid == [PlainCredentials, ExternalCredentials]
    assert isinstance(credentials.VALID_TYPES, list)
