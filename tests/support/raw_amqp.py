"""A bare AMQP 0-9-1 peer for tests that must not depend on pika itself.

Frames are cut from the socket here (7-byte header, payload, frame-end) and
encoded/decoded with ``pamqp``, an independent codec, so a broker fixture or a
fault scenario can be checked without the client under test.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from pamqp import body, commands, frame, header
from pamqp.base import Frame

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE
_HEADER = struct.Struct(">BHI")


class RawConnection:
    """One socket to a broker, read and written frame by frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> RawConnection:
        """Connect (with TLS if *context* is given) and send the protocol header."""
        sock = socket.create_connection((host, port), timeout=timeout)
        if context is not None:
            try:
                sock = context.wrap_socket(sock, server_hostname=server_hostname or host)
            except BaseException:
                sock.close()
                raise
        conn = cls(sock)
        conn.sock.sendall(PROTOCOL_HEADER)
        return conn

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket without any AMQP goodbye."""
        self.sock.close()

    def read_raw_frame(self) -> tuple[int, int, bytes] | None:
        """(frame type, channel, payload) of the next frame; None at EOF."""
        head = self._read(_HEADER.size)
        if head is None:
            return None
        kind, channel, size = _HEADER.unpack(head)
        rest = self._read(size + 1)
        if rest is None:
            return None
        if rest[-1] != FRAME_END:
            raise AssertionError(f"frame-end octet is {rest[-1]:#x}, not {FRAME_END:#x}")
        return kind, channel, rest[:-1]

    def read_frame(self) -> tuple[int, Any] | None:
        """(channel, pamqp frame object) of the next frame; None at EOF."""
        raw = self.read_raw_frame()
        if raw is None:
            return None
        kind, channel, payload = raw
        data = _HEADER.pack(kind, channel, len(payload)) + payload + bytes([FRAME_END])
        _, decoded_channel, value = frame.unmarshal(data)
        return decoded_channel, value

    def expect(self, kind: type[Any]) -> Any:
        """Read one frame and check it is an instance of *kind* (a pamqp class)."""
        got = self.read_frame()
        if got is None:
            raise AssertionError(f"connection closed while waiting for {kind.__name__}")
        if not isinstance(got[1], kind):
            raise AssertionError(f"expected {kind.__name__}, got {got[1]!r}")
        return got[1]

    def send(
        self, value: Frame | header.ContentHeader | body.ContentBody, channel: int = 0
    ) -> None:
        """Encode and send one frame."""
        self.sock.sendall(frame.marshal(value, channel))

    def handshake(
        self,
        *,
        mechanism: str = "PLAIN",
        response: str = "\0guest\0guest",
        vhost: str = "/",
        client_properties: dict[str, Any] | None = None,
    ) -> commands.Connection.Tune:
        """Start-Ok, Tune-Ok and Open; returns the broker's Tune after Open-Ok arrived."""
        self.expect(commands.Connection.Start)
        properties = client_properties or {}
        self.send(commands.Connection.StartOk(properties, mechanism, response))
        tune: commands.Connection.Tune = self.expect(commands.Connection.Tune)
        self.send(commands.Connection.TuneOk(tune.channel_max, tune.frame_max, 0))
        self.send(commands.Connection.Open(virtual_host=vhost))
        self.expect(commands.Connection.OpenOk)
        return tune

    def _read(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
