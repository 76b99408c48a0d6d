"""What a vendor package exports: one `ConnectorPlugin`, registered in the entry-point group
`fieldbridge.connectors`. The core finds vendors only through it — their settings, credentials block,
client, sandbox, error table and demo data — so a new vendor is one package plus one entry-point line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.contract.errors import ErrorTable

Role = Literal["crm", "payroll", "accounting", "hr", "field_service", "events"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def check_url(name: str, value: str) -> str:
    """Secrets travel with every call: refuse plain http:// except to this machine (sandboxes)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} {value!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"{name} {value!r} uses plain http:// to another host: credentials would travel in clear "
                         "text; use https:// (plain http is allowed only on loopback, for sandboxes)")
    return value


class VendorSettings(BaseSettings):
    """Base of every plugin's settings. A subclass sets its own `env_prefix` (FIELDBRIDGE_<VENDOR>_)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    credentials_block: str | None = None  # a saved Prefect block whose secrets replace these settings'
    # the tenant's API quota per the vendor's window, as its plan states it (unset: the documented default);
    # fieldbridge spends 95 % of it, shared by every worker, and the sandbox enforces the same number
    rate_limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _urls_are_safe(self) -> VendorSettings:
        for name, value in self:
            if name.endswith("_url") and isinstance(value, str) and value:
                check_url(name, value)
        return self


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds
    extra: dict[str, str] = field(default_factory=dict)  # e.g. Salesforce's instance_url

    def fresh(self, margin: float = 60) -> bool:
        return bool(self.access_token) and self.expires_at - margin > time.time()


class TokenStore(Protocol):
    """Where a connection's current tokens live. `save` is durable before it returns, and `locked()`
    serialises refreshes across threads, processes and hosts (a rotated refresh token is single-use)."""

    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def locked(self) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class ConnectContext:
    """What the core gives a plugin to build its client."""

    settings: VendorSettings  # the plugin's own settings (its env prefix), secrets already resolved
    home: Path
    timeout_seconds: float
    max_attempts: int
    token_store: Callable[[str], TokenStore]  # key → the shared store for that connection's OAuth tokens
    transport: Any = None  # an httpx transport (tests)


@dataclass(frozen=True)
class SandboxContext:
    settings: VendorSettings
    faults: Any  # connectors.emulator.FaultConfig
    state_path: Path | None


@dataclass(frozen=True)
class DemoTechnician:
    id: str
    name: str
    email: str
    payroll_id: str
    hr_id: str = ""  # the HR system's employee id, when one is configured


@dataclass(frozen=True)
class DemoCustomer:
    id: str
    name: str
    email: str | None
    vendor_id: str  # the record the customer already has in accounting


@dataclass(frozen=True)
class DemoCase:
    """A case the CRM logged this morning that asks for a visit (intake turns it into a job)."""

    key: str  # stable across demo runs: the seed is written once ("demo-case-1")
    subject: str
    description: str
    contact_name: str
    contact_email: str
    line1: str
    city: str
    state: str
    postal_code: str
    preferences: str = ""
    company: str = ""
    contract: str = ""
    service_level: str = ""


@dataclass(frozen=True)
class DemoLeave:
    """Approved time off an HR system holds (the demo's sick day)."""

    key: str  # stable across demo runs
    hr_id: str  # the technician's employee id in the HR system
    day: date
    kind: str = "sick"


@dataclass(frozen=True)
class DemoSeed:
    """The vendor side of the demo company: who exists in payroll and accounting before fieldbridge runs, and the
    morning's CRM cases and HR time off."""

    technicians: tuple[DemoTechnician, ...]
    accounting_customers: tuple[DemoCustomer, ...]
    cases: tuple[DemoCase, ...] = ()
    leaves: tuple[DemoLeave, ...] = ()


class WebhookRefused(ValueError):
    """A vendor webhook whose signature, age or shape is wrong: answered 401, nothing started."""


@dataclass(frozen=True)
class WebhookSpec:
    """A vendor's webhooks at the ingress (`POST /webhooks/<connector>`): how a delivery is verified, and the
    deployment a verified delivery starts (the flow then reads the vendor itself: the payload only says
    something changed)."""

    verify: Callable[[VendorSettings, str, str, Mapping[str, str], bytes, float], None]  # settings, method, url,
    # headers, body, now (epoch seconds) → None, or raises WebhookRefused
    starts: str  # "crm-intake/crm-intake"
    # the started run's parameters from the verified body (e.g. Jobber's topic and item); ValueError: malformed,
    # answered 400 and nothing stored. None: the run takes no parameters (HubSpot's intake reads every change)
    parameters: Callable[[bytes], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class FieldServiceDemo:
    """How `fieldbridge demo --source <name>` drives a field-service sandbox: the day's jobs (open-API
    snapshots) go in as open jobs, are closed there (its signed webhooks go to fieldbridge's ingress), and a few
    get a technician's late note after they were posted."""

    seed: Callable[[str, VendorSettings, list[dict[str, Any]]],
                   tuple[dict[str, str], dict[str, str], dict[str, str]]]  # sandbox url, settings, snapshots →
    # (environment the connector needs, fieldbridge job id → vendor job id, snapshot customer id → the id the
    # connector gives that customer: the demo links it to the customer's existing accounting record)
    close: Callable[[str, VendorSettings, list[tuple[str, str]], str], None]  # …, [(vendor job id, closed at
    # ISO 8601)], webhook url
    edit: Callable[[str, VendorSettings, list[tuple[str, str]]], None]  # …, [(vendor job id, technician email)]
    pending: Callable[[str], int]  # deliveries the sandbox has yet to make


@dataclass(frozen=True)
class OAuthApp:
    """The authorization-code grant of a vendor app (`fieldbridge connect <name>`): the page a person consents
    on, and the exchange of the code it redirects back with for the connection's first tokens (stored where
    the client reads them)."""

    authorize_url: Callable[[VendorSettings, str], str]  # settings, state → the URL to open
    exchange: Callable[[ConnectContext, str], str]  # context, code → what was connected, in words
    redirect_uri: Callable[[VendorSettings], str]


@dataclass(frozen=True)
class ConnectorPlugin:
    name: str  # configuration value and effect-key prefix, e.g. "hubspot"
    title: str  # "HubSpot"
    roles: frozenset[Role]
    settings: type[VendorSettings]  # the plugin's settings model, with its own env prefix
    connect: Callable[[ConnectContext], Any]  # builds the client that implements the roles
    errors: ErrorTable = field(default_factory=dict)  # overrides of the default response → action table
    secret_fields: tuple[str, ...] = ()  # settings fields a credentials block may supply
    credentials: Callable[[], type] | None = None  # the Prefect block class (imported lazily: Prefect is heavy)
    sandbox: Callable[[SandboxContext], Any] | None = None  # the emulator (a connectors.emulator.Sandbox)
    sandbox_env: Callable[[str, VendorSettings], Mapping[str, str]] | None = None  # env pointing the client at it
    seed_sandbox: Callable[[str, VendorSettings, DemoSeed], None] | None = None  # put the demo's vendor side
    demo_id: Callable[[str, int], str] | None = None  # ("employee" | "customer", n) → a vendor-shaped id
    webhook: WebhookSpec | None = None  # the vendor's webhooks the ingress accepts, if any
    oauth: OAuthApp | None = None  # how `fieldbridge connect <name>` walks the vendor's authorization
    demo_source: FieldServiceDemo | None = None  # a field-service sandbox the demo can take its jobs from
    docs: str = ""

    def load_settings(self, **overrides: Any) -> VendorSettings:
        """The plugin's settings from the environment, with secrets from its credentials block if one is named."""
        settings = self.settings(**overrides)
        if settings.credentials_block and self.credentials is not None:
            block = self.credentials().load(settings.credentials_block)
            found = {f: getattr(block, f) for f in self.secret_fields if getattr(block, f, None) is not None}
            settings = settings.model_copy(update=found)
        return settings


def iter_roles(plugins: Mapping[str, ConnectorPlugin], role: Role) -> Iterator[ConnectorPlugin]:
    return (p for p in plugins.values() if role in p.roles)
