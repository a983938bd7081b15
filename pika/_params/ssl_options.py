"""``SSLOptions``: the TLS context and server name for a connection."""

from __future__ import annotations

import copy
import ssl
from typing import Any

__all__ = ["SSLOptions"]


class SSLOptions:
    """TLS settings: an ``ssl.SSLContext`` and the name for SNI and certificate
    checks (``None`` means the connection's host).
    """

    __slots__ = ("context", "server_hostname")

    def __init__(self, context: ssl.SSLContext, server_hostname: str | None = None) -> None:
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(f"context must be of ssl.SSLContext type, but got {context!r}")
        self.context = context
        self.server_hostname = server_hostname

    def __repr__(self) -> str:
        return f"<{type(self).__name__} server_hostname={self.server_hostname!r}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> SSLOptions:
        # An SSLContext cannot be copied; copies share it, so deep-copying
        # parameters that carry TLS settings works.
        return copy.copy(self)


SSLOptions.__module__ = "pika.connection"
