"""Connection parameters, re-exported by :mod:`pika.connection`."""

from __future__ import annotations

from pika._params.parameters import ConnectionParameters, Parameters
from pika._params.ssl_options import SSLOptions
from pika._params.url import URLParameters

__all__ = ["ConnectionParameters", "Parameters", "SSLOptions", "URLParameters"]
