"""Process-wide wiring: settings → engine, ledger and the connectors playing each role, built once.

Connectors come from their plugins (`connectors.registry`); the roles are typed Protocols, so the core
calls `rt.crm.resolve_case(...)` without knowing which vendor answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from connectors.contract import (
    CRM,
    HR,
    Accounting,
    ConnectContext,
    ConnectorPlugin,
    EventSink,
    FieldService,
    Payroll,
    VendorSettings,
)
from connectors.contract.errors import register_transient
from connectors.registry import get_plugin
from models.db import create_schema, get_engine
from models.ledger import Ledger
from models.settings import FieldbridgeSettings, get_settings
from models.token_store import DatabaseTokenStore


def _orchestration_went_away(exc: BaseException) -> bool:
    """The Prefect API unreachable or answering 5xx for a moment (a server restart): vendor calls never raise
    raw httpx errors (the HTTP layer classifies them), so these come from Prefect's client."""
    import httpx

    if isinstance(exc, httpx.TransportError):
        return True
    if type(exc).__name__ == "ConcurrencySlotAcquisitionError":  # the tag-concurrency API did not answer
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return type(exc).__name__ == "PrefectHTTPStatusError" and isinstance(status, int) and status >= 500


register_transient(_orchestration_went_away)


@dataclass
class Runtime:
    settings: FieldbridgeSettings
    engine: Engine
    ledger: Ledger
    crm: CRM
    payroll: Payroll
    accounting: Accounting
    events: EventSink | None = None  # custom systems subscribed to fieldbridge's events
    hr: HR | None = None  # where technicians' time off comes from (availability)
    field_service: FieldService | None = None  # a field-service system closed jobs are read from (webhooks)

    def connectors(self) -> list[CRM | Payroll | Accounting | EventSink | HR | FieldService]:
        return [c for c in (self.crm, self.payroll, self.accounting, self.events, self.hr, self.field_service)
                if c is not None]


def share_rate_budgets(core: FieldbridgeSettings, engine: Engine) -> bool:
    """Put every vendor budget of this process in the database when the settings say so (see
    `rate_budgets`): N workers then send one tenant's quota, not N times it. True when shared."""
    from connectors.http.ratelimit import use_budget_store
    from models.rate_budget import DatabaseBudgetStore

    mode = core.rate_budgets
    if mode == "process" or (mode == "auto" and engine.dialect.name != "postgresql"):
        use_budget_store(None)
        return False
    use_budget_store(DatabaseBudgetStore(engine))  # "database" on SQLite is refused here, loudly
    return True


def connect(plugin: ConnectorPlugin, settings: VendorSettings | None = None, *,
            core: FieldbridgeSettings | None = None, engine: Engine | None = None, transport: Any = None) -> Any:
    """Build one plugin's client: its own settings (and credentials block), the core's timeouts and retry
    budget, and OAuth tokens in fieldbridge's database, where every worker host sees the newest."""
    core = core or get_settings()
    engine = engine or get_engine(core.resolved_database_url())
    create_schema(engine)
    share_rate_budgets(core, engine)
    ctx = ConnectContext(
        settings=settings or plugin.load_settings(), home=core.home, timeout_seconds=core.http_timeout_seconds,
        max_attempts=core.http_max_attempts, token_store=lambda key: DatabaseTokenStore(engine, key),
        transport=transport,
    )
    return plugin.connect(ctx)


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """Build on first use; every task in this process shares clients, rate budgets and the engine."""
    global _runtime
    with _lock:
        if _runtime is None:
            settings = get_settings()
            engine = get_engine(settings.resolved_database_url())
            create_schema(engine)
            _runtime = Runtime(
                settings=settings,
                engine=engine,
                ledger=Ledger(engine),
                crm=connect(get_plugin(settings.crm_system, "crm"), core=settings, engine=engine),
                payroll=connect(get_plugin(settings.payroll_system, "payroll"), core=settings, engine=engine),
                accounting=connect(get_plugin(settings.accounting_system, "accounting"), core=settings,
                                   engine=engine),
                events=connect(get_plugin(settings.events_system, "events"), core=settings, engine=engine)
                if settings.events_system else None,
                hr=connect(get_plugin(settings.hr_system, "hr"), core=settings, engine=engine)
                if settings.hr_system else None,
                field_service=connect(get_plugin(settings.field_service_system, "field_service"), core=settings,
                                      engine=engine) if settings.field_service_system else None,
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
