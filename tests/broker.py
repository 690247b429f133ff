"""The ``kafka_bootstrap`` fixture: a Kafka broker for tests that need one.

``PLERA_KAFKA_BOOTSTRAP`` set (``bash infra/test.sh`` sets it, or point it at any
Kafka broker): that broker is used as it is. Unset: a noida-db broker is started
through ``infra/kafka_broker.py`` in a temporary directory for the session and
stopped at its end. Tests must rely on nothing broker-specific: create the topics
they use, with unique names, since the broker may be shared.

Use it by importing the fixture into a test module (or a conftest)::

    from tests.broker import kafka_bootstrap  # noqa: F401
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BROKER_SCRIPT = Path(__file__).resolve().parent.parent / "infra" / "kafka_broker.py"
_MODULE_NAME = "plera_infra_kafka_broker"


def load_kafka_broker() -> ModuleType:
    """Import ``infra/kafka_broker.py`` by path (infra/ is not a package)."""
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, BROKER_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BROKER_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka broker: ``PLERA_KAFKA_BOOTSTRAP``, else a noida-db started here."""
    configured = os.environ.get("PLERA_KAFKA_BOOTSTRAP", "").strip()
    if configured:
        yield configured
        return
    broker = load_kafka_broker()
    proc, bootstrap = broker.start_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield bootstrap
    finally:
        broker.stop_broker(proc)
