"""``import pika`` is lazy, yet every name and submodule pika 1.x exposes is reachable."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBES = [
    "pika.BlockingConnection",
    "pika.SelectConnection",
    "pika.Connection",
    "pika.ConnectionParameters",
    "pika.URLParameters",
    "pika.BasicProperties",
    "pika.DeliveryMode",
    "pika.exceptions.AMQPConnectionError",
    "pika.spec.Basic.Deliver",
    "pika.adapters.IOLoop",
    "pika.adapters.blocking_connection.BlockingChannel",
    "pika.adapters.select_connection.IOLoop",
    "pika.adapters.asyncio_connection.AsyncioConnection",
    "pika.adapters.base_connection.BaseConnection",
    "pika.adapters.utils.connection_workflow.AMQPConnectionWorkflow",
    "pika.adapters.thread_safe_connection.Connection",
]


@pytest.mark.parametrize("path", PROBES)
def test_reachable_after_bare_import(path: str) -> None:
    code = f"import pika\nprint(repr({path}))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_optional_frameworks_not_imported_by_import_pika() -> None:
    code = (
        "import sys, pika\n"
        "pika.BlockingConnection\n"
        "print(sorted(m for m in ('tornado', 'twisted', 'gevent') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_unknown_names_raise_attribute_error() -> None:
    import pika

    with pytest.raises(AttributeError):
        pika.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        pika.adapters.no_such_module  # noqa: B018
