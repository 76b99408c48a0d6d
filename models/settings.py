"""Runtime configuration: one pydantic-settings object, read from FIELDBRIDGE_* env vars or `.env`.

Secrets are `SecretStr` so they never print in logs, reprs or artifacts.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".fieldbridge")


class FieldbridgeSettings(BaseSettings):
    """Everything fieldbridge needs to know about where it runs and whom it talks to."""

    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_", env_file=".env", extra="ignore")

    home: Path = DEFAULT_HOME
    database_url: str | None = None  # default: SQLite file under `home`

    company_name: str = "Bayside Appliance Repair"
    company_timezone: str = "America/Los_Angeles"
    currency: str = "USD"
    tax_rate: str = "0.0875"  # sales tax on parts and expenses, as a decimal string
    labour_taxable: bool = False

    # payroll rules (see docs/hours.md)
    payroll_jurisdiction: str = "US-CA"
    workday_start: str = "00:00"
    workweek_start: str = "sun"
    paid_commute_travel: bool = False  # company policy: pay commute travel the law does not require
    paid_meal_periods: bool = False  # company policy: pay bona fide meal periods too
    commute_vehicle_agreement: bool = False  # an ECFA agreement covers commuting in company vehicles
    company_vehicle_optional: bool = False  # technicians may choose not to commute in the company vehicle

    # which installed connector plays each role (`fieldbridge connectors` lists them); each connector reads
    # its own settings (FIELDBRIDGE_<NAME>_*), so this file names no vendor
    crm_system: str = "hubspot"
    payroll_system: str = "gusto"
    accounting_system: str = "quickbooks"
    hr_system: str | None = None  # a connector playing "hr": technicians' time off → availability (bamboohr)
    events_system: str | None = None  # a connector playing "events" (custom systems' webhooks), or none
    # a connector playing "field_service" (jobber): its webhooks at /webhooks/<name> bring closed jobs in
    field_service_system: str | None = None
    labour_item_code: str = "LABOUR"  # the accounting item (where items exist) labour lines post against
    send_invoices: bool = True  # email each invoice to the customer once it is created
    # technician → their user in the CRM ("T01=51234,T02=51235"): a booked case is owned by its technician
    crm_owners: str = ""
    crm_job_reports: bool = True  # file each closed job's report on the customer's CRM profile (tasks/job_report.py)

    # the open API (deployments/ingress.py): comma-separated receiving secrets, any one verifies, so a
    # secret is rotated by adding the new one, moving senders over, then removing the old one
    ingress_secrets: SecretStr | None = None
    ingress_host: str = "127.0.0.1"
    ingress_port: int = 8700
    ingress_tolerance_seconds: int = 300
    ingress_max_body_bytes: int = 1_048_576
    ingress_public_url: str | None = None  # e.g. https://fb.example.com when behind a proxy (vendor webhook signatures)

    # the schedule: hours of a technician's working day (a partial leave leaves the rest of it), and how far
    # ahead hr_availability reads time off
    workday_hours: Decimal = Decimal("8")
    availability_days_ahead: int = 60

    # how runs are started and executed
    job_closed_deployment: str = "job-closed/job-closed"
    bulk_job_closed_deployment: str = "bulk-job-closed/bulk-job-closed"
    # bursts (flows/burst.py): when at least `burst_threshold` closed jobs arrive within `burst_window_seconds`
    # (a day imported late, a backlog the sweeper finds), they go through one bulk run per `burst_batch_size`
    # events, started once `burst_linger_seconds` passed without the batch filling; 0 turns bursts off
    burst_threshold: int = 30
    burst_window_seconds: float = 60.0
    burst_batch_size: int = 300
    burst_linger_seconds: float = 5.0
    executor_workers: int = 4  # flow runs `fieldbridge serve` executes at once
    # a run that failed only for transient reasons runs again after base, 2×base, 4×base … (at most 15 × base)
    redrive_base_seconds: float = 60.0
    # a run claimed by a worker that died before starting it stays Pending for ever (no heartbeat to miss):
    # after this long the sweeper schedules it again
    redrive_pending_seconds: float = 300.0
    executor_poll_seconds: float = 1.0  # how often it asks Prefect for scheduled runs (UI retries, schedules)
    alert_webhook_url: SecretStr | None = None  # failed / quarantined job-closed runs are posted here

    # nightly reconciliation: the share of a day's jobs that must agree in every system for the run to pass
    reconcile_match_threshold: float = 0.98
    # past one machine: compare in this many partitions (by workday and technician) on a Dask cluster;
    # 0 or 1 compares in the flow's own process
    reconcile_partitions: int = 0
    reconcile_dask_address: str | None = None  # tcp://scheduler:8786; unset: a LocalCluster per run
    reconcile_dask_workers: int = 2  # processes of that LocalCluster

    # vendor rate budgets: "auto" shares them across every worker process and host through the database when
    # it is PostgreSQL (production), and keeps them in the process on SQLite (one machine, one process)
    rate_budgets: Literal["auto", "process", "database"] = "auto"

    http_timeout_seconds: float = 20.0
    http_max_attempts: int = 5

    def crm_owner_map(self) -> dict[str, str]:
        """`crm_owners` as technician id → CRM user id; a malformed pair is a configuration error."""
        out: dict[str, str] = {}
        for pair in (p.strip() for p in self.crm_owners.split(",") if p.strip()):
            tech, sep, owner = pair.partition("=")
            if not sep or not tech.strip() or not owner.strip():
                raise ValueError(f"FIELDBRIDGE_CRM_OWNERS: {pair!r} is not TECHNICIAN=CRM_USER_ID")
            out[tech.strip()] = owner.strip()
        return out

    def ingress_secret_list(self) -> list[str]:
        raw = self.ingress_secrets.get_secret_value() if self.ingress_secrets else ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        from models.files import private_file

        return f"sqlite:///{private_file(self.home / 'fieldbridge.db').resolve()}"  # 0600 in a 0700 home


@lru_cache
def get_settings() -> FieldbridgeSettings:
    return FieldbridgeSettings()
