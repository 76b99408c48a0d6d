"""Start the configured connectors' sandboxes on loopback and seed the demo company's vendor side.

Which sandboxes: the connectors configured for the three roles (`FIELDBRIDGE_CRM_SYSTEM`, …), each built
by its own plugin, so this module names no vendor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.contract import (
    ConnectorPlugin,
    DemoCustomer,
    DemoSeed,
    DemoTechnician,
    Role,
    SandboxContext,
)
from connectors.emulator import FaultConfig, Sandbox, SandboxServer
from connectors.registry import get_plugin, plugins
from deployments.demo_data import DemoCompany
from models.settings import FieldbridgeSettings

if TYPE_CHECKING:
    from deployments.demo_morning import DemoMorning


def configured(settings: FieldbridgeSettings) -> dict[Role, ConnectorPlugin]:
    """The plugin playing each role under these settings (custom systems' events only when configured)."""
    names: dict[Role, str | None] = {"crm": settings.crm_system, "payroll": settings.payroll_system,
                                     "accounting": settings.accounting_system, "events": settings.events_system,
                                     "hr": settings.hr_system, "field_service": settings.field_service_system}
    return {role: get_plugin(name, role) for role, name in names.items() if name}


def configured_port(system: str) -> int | None:
    """The port a connector's settings expect its sandbox on (its loopback base URL), if they say."""
    from urllib.parse import urlsplit

    settings = get_plugin(system).load_settings()
    url = urlsplit(str(getattr(settings, "base_url", "") or ""))
    return url.port if url.hostname in ("127.0.0.1", "localhost", "::1") else None


def with_sandboxes() -> list[str]:
    """Installed connectors that ship an emulator."""
    return sorted(name for name, p in plugins().items() if p.sandbox is not None)


def build(system: str, faults: FaultConfig | None = None, state_dir: Path | None = None) -> Sandbox:
    """One sandbox, configured with the same credentials its connector is configured with."""
    plugin = get_plugin(system)
    if plugin.sandbox is None:
        raise ValueError(f"connector {system!r} ships no sandbox")
    state = (state_dir / f"{system}.sqlite") if state_dir else None
    return plugin.sandbox(SandboxContext(plugin.load_settings(), faults or FaultConfig(), state))


@dataclass
class RunningSandboxes:
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    servers: dict[str, SandboxServer] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # role → system

    def url(self, system_or_role: str) -> str:
        return self.servers[self.roles.get(system_or_role, system_or_role)].url

    def system(self, role: str) -> str:
        return self.roles[role]

    def env(self) -> dict[str, str]:
        """Settings overrides that point each connector at its sandbox."""
        out: dict[str, str] = {}
        for system in self.servers:
            plugin = get_plugin(system)
            if plugin.sandbox_env is not None:
                out.update(plugin.sandbox_env(self.url(system), plugin.load_settings()))
        return out

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_all(settings: FieldbridgeSettings, faults: FaultConfig | None = None, state_dir: Path | None = None,
              ports: dict[str, int] | None = None) -> RunningSandboxes:
    """Start the sandbox of every configured role; `ports` by role (0 or absent: any free port)."""
    running = RunningSandboxes()
    for role, plugin in configured(settings).items():
        if plugin.sandbox is None:
            continue  # a connector without an emulator talks to its real system (or, like Casebook, is local)
        running.roles[role] = plugin.name
        if plugin.name in running.sandboxes:
            continue  # one system playing two roles (BambooHR as payroll and HR): one sandbox
        sandbox = build(plugin.name, faults, state_dir)
        running.sandboxes[plugin.name] = sandbox
        running.servers[plugin.name] = SandboxServer(sandbox.asgi(), port=(ports or {}).get(role, 0)).start()
    return running


def demo_seed(company: DemoCompany) -> DemoSeed:
    by_id = {c.id: c for c in company.customers}
    return DemoSeed(
        technicians=tuple(DemoTechnician(t.id, t.name, t.email, t.payroll_id or "", t.hr_id or "")
                          for t in company.technicians),
        accounting_customers=tuple(DemoCustomer(cid, by_id[cid].name, by_id[cid].email, vendor_id)
                                   for cid, vendor_id in company.accounting_customers.items()),
    )


def seed(company: DemoCompany, settings: FieldbridgeSettings, morning: DemoMorning | None = None) -> None:
    """Put on the vendor side what exists there before fieldbridge runs: payroll employees, the accounting
    customers that already have records, and a CRM case for every job (through the CRM role itself); with
    `morning`, the day's new CRM cases and HR time off too (the demo's)."""
    from tasks.runtime import connect

    plugins_by_role = configured(settings)
    seed_data = demo_seed(company)
    if morning is not None:
        seed_data = replace(seed_data, cases=morning.cases, leaves=morning.leaves)
    seeded = set()
    for role in ("payroll", "accounting", "hr", "crm"):
        plugin = plugins_by_role.get(role)
        if plugin is not None and plugin.name not in seeded and plugin.seed_sandbox is not None \
                and plugin.sandbox is not None:
            seeded.add(plugin.name)
            vendor = plugin.load_settings()
            plugin.seed_sandbox(_base_url(vendor), vendor, seed_data)
    crm = connect(plugins_by_role["crm"], core=settings)
    try:
        for job in company.jobs:
            crm.open_case(job.id, f"{job.description} — {job.id}", f"Job {job.id} for customer {job.customer_id}")
    finally:
        crm.close()


def _base_url(vendor_settings: object) -> str:
    url = getattr(vendor_settings, "base_url", None)
    if not url:
        raise ValueError(f"{type(vendor_settings).__name__} has no base_url to seed a sandbox at")
    return str(url).rstrip("/")
