"""BambooHR as payroll (hour entries per employee and day, one per pay class, found again by a marker)
and HR (time off requests and who's out, for technician availability)."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.bamboohr.errors import ERRORS
from connectors.bamboohr.settings import BambooHRSettings
from connectors.contract import ConnectContext, ConnectorPlugin, DemoSeed, SandboxContext, VendorSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.bamboohr.client import BambooHRPayroll
    from connectors.http import RetryPolicy

    s = ctx.settings
    assert isinstance(s, BambooHRSettings)
    return BambooHRPayroll(s.base_url, s.api_key, policy=RetryPolicy(max_attempts=ctx.max_attempts),
                           timeout=ctx.timeout_seconds, transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.bamboohr.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, BambooHRSettings)
    return create_app(s.api_key.get_secret_value(), ctx.faults, ctx.state_path,
                      per_second_limit=s.rate_limit or 10)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_BAMBOOHR_BASE_URL": url}


def _seed_sandbox(url: str, settings: VendorSettings, seed: DemoSeed) -> None:
    # BambooHR may be payroll, HR or both: each technician's numeric ids are its employees
    docs = [{"id": int(i), "firstName": t.name.split()[0], "lastName": t.name.split()[-1], "workEmail": t.email}
            for t in seed.technicians for i in dict.fromkeys((t.payroll_id, t.hr_id)) if i and i.isdigit()]
    httpx.post(f"{url}/_sandbox/seed/employees", json={"id_field": "id", "docs": docs}, timeout=20).raise_for_status()


def _demo_id(kind: str, n: int) -> str:
    """BambooHR employee ids are numbers."""
    return str(100 + n)


def _credentials() -> type:
    from connectors.bamboohr.credentials import BambooHRCredentials

    return BambooHRCredentials


plugin = ConnectorPlugin(
    name="bamboohr", title="BambooHR", roles=frozenset({"payroll", "hr"}), settings=BambooHRSettings,
    connect=_connect, errors=ERRORS, secret_fields=("api_key",), credentials=_credentials, sandbox=_sandbox,
    sandbox_env=_sandbox_env, seed_sandbox=_seed_sandbox, demo_id=_demo_id, docs="docs/connectors.md#bamboohr",
)
