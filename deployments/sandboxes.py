"""Start the three vendor sandboxes on loopback and seed them with the demo company's vendor-side data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from connectors.emulator import FaultConfig, Sandbox, SandboxServer
from connectors.gusto import sandbox as gusto_sandbox
from connectors.hubspot import sandbox as hubspot_sandbox
from connectors.hubspot.client import HubSpotCRM
from connectors.quickbooks import sandbox as quickbooks_sandbox
from deployments.demo_data import DemoCompany
from models.settings import FieldbridgeSettings

SYSTEMS = ("hubspot", "quickbooks", "gusto")


def build(system: str, settings: FieldbridgeSettings, faults: FaultConfig | None = None,
          state_dir: Path | None = None) -> Sandbox:
    """One sandbox configured with the same credentials the connectors are configured with."""
    state = (state_dir / f"{system}.sqlite") if state_dir else None
    if system == "hubspot":
        return hubspot_sandbox.create_app(settings.hubspot_token.get_secret_value(), faults, state)
    if system == "quickbooks":
        return quickbooks_sandbox.create_app(
            settings.quickbooks_client_id, settings.quickbooks_client_secret.get_secret_value(),
            settings.quickbooks_refresh_token.get_secret_value(), settings.quickbooks_realm_id, faults, state)
    if system == "gusto":
        return gusto_sandbox.create_app(settings.gusto_token.get_secret_value(), settings.gusto_company_uuid,
                                        faults, state)
    raise ValueError(f"unknown sandbox {system!r}; choose from {', '.join(SYSTEMS)}")


@dataclass
class RunningSandboxes:
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    servers: dict[str, SandboxServer] = field(default_factory=dict)

    def url(self, system: str) -> str:
        return self.servers[system].url

    def env(self) -> dict[str, str]:
        """Settings overrides that point the connectors at these sandboxes."""
        return {
            "FIELDBRIDGE_HUBSPOT_BASE_URL": self.url("hubspot"),
            "FIELDBRIDGE_QUICKBOOKS_BASE_URL": self.url("quickbooks"),
            "FIELDBRIDGE_QUICKBOOKS_TOKEN_URL": self.url("quickbooks") + "/oauth2/v1/tokens/bearer",
            "FIELDBRIDGE_GUSTO_BASE_URL": self.url("gusto"),
        }

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_all(settings: FieldbridgeSettings, faults: FaultConfig | None = None, state_dir: Path | None = None,
              ports: dict[str, int] | None = None) -> RunningSandboxes:
    running = RunningSandboxes()
    for system in SYSTEMS:
        sandbox = build(system, settings, faults, state_dir)
        running.sandboxes[system] = sandbox
        running.servers[system] = SandboxServer(sandbox.asgi(), port=(ports or {}).get(system, 0)).start()
    return running


def seed(company: DemoCompany, settings: FieldbridgeSettings) -> None:
    """Put on the vendor side what exists there before fieldbridge runs: CRM tickets for the jobs,
    payroll employees for the technicians, and the accounting customers that already have records."""
    with httpx.Client(timeout=20) as http:
        http.post(f"{settings.gusto_base_url}/_sandbox/seed/employees", json={"id_field": "uuid", "docs": [
            {"uuid": t.payroll_id, "first_name": t.name.split()[0], "last_name": t.name.split()[-1],
             "email": t.email, "company_uuid": settings.gusto_company_uuid} for t in company.technicians
        ]}).raise_for_status()
        by_id = {c.id: c for c in company.customers}
        http.post(f"{settings.quickbooks_base_url}/_sandbox/seed/Customer", json={"id_field": "Id", "docs": [
            {"Id": vendor_id, "DisplayName": by_id[cid].name, "SyncToken": "0", "Active": True,
             "Notes": f"fieldbridge:{cid}",
             "PrimaryEmailAddr": {"Address": by_id[cid].email}}
            for cid, vendor_id in company.accounting_customers.items()
        ]}).raise_for_status()
    crm = HubSpotCRM.from_settings(settings)
    try:
        for job in company.jobs:
            crm.open_case(job.id, f"{job.description} — {job.id}", f"Job {job.id} for customer {job.customer_id}")
    finally:
        crm.close()
