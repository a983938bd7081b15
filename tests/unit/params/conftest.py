"""Throwaway TLS material for the parameter tests, generated per session.

Keys and certificates are created with ``cryptography`` in a temporary
directory and never committed.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_PASSWORD = "key-passphrase"
SERVER_NAME = "broker.test"


@dataclass(frozen=True)
class TLSFiles:
    """Paths and PEM text of a private CA and a server certificate it signed."""

    ca_file: Path
    ca_dir: Path
    ca_pem: str
    cert_file: Path
    key_file: Path  # encrypted with KEY_PASSWORD
    plain_key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    is_ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSFiles]:
    directory = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("pika test CA", ca_key, "pika test CA", ca_key, is_ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(SERVER_NAME, server_key, "pika test CA", ca_key, is_ca=False)

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_pem)
    ca_dir = directory / "capath"
    ca_dir.mkdir()
    cert_file = directory / "server.pem"
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "server.key"
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    plain_key_file = directory / "server-plain.key"
    plain_key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    yield TLSFiles(ca_file, ca_dir, ca_pem.decode(), cert_file, key_file, plain_key_file)


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, server_hostname: str) -> None:
    """Run a TLS handshake between two contexts entirely in memory.

    Raises ``ssl.SSLError`` (e.g. ``SSLCertVerificationError``) when it fails.
    """
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_obj = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    # Each round moves every pending byte; a handshake needs only a few.
    for _ in range(20):
        for name, obj in (("client", client_obj), ("server", server_obj)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("TLS handshake did not complete in 20 rounds")


@pytest.fixture
def tls_handshake() -> object:
    """The in-memory handshake helper, as a fixture so tests need not import conftest."""
    return handshake
