"""Process-wide wiring: settings → engine, ledger and the three role connectors, built once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from connectors.credentials import apply_credentials_block
from connectors.registry import build_connector
from models.db import create_schema, get_engine
from models.ledger import Ledger
from models.settings import FieldbridgeSettings, get_settings


@dataclass
class Runtime:
    settings: FieldbridgeSettings
    engine: Engine
    ledger: Ledger
    crm: Any
    payroll: Any
    accounting: Any

    def connectors(self) -> list[Any]:
        return [self.crm, self.payroll, self.accounting]


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """Build on first use; every task in this process shares clients, rate budgets and the engine."""
    global _runtime
    with _lock:
        if _runtime is None:
            settings = apply_credentials_block(get_settings())
            engine = get_engine()
            create_schema(engine)
            _runtime = Runtime(
                settings=settings,
                engine=engine,
                ledger=Ledger(engine),
                crm=build_connector(settings.crm_system, settings),
                payroll=build_connector(settings.payroll_system, settings),
                accounting=build_connector(settings.accounting_system, settings),
            )
        return _runtime


def reset_runtime() -> None:
    """Forget the cached wiring (after settings change, e.g. in tests or the demo)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            for connector in _runtime.connectors():
                connector.close()
        _runtime = None
    get_settings.cache_clear()
