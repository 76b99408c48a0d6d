"""Jobber's settings: `FIELDBRIDGE_JOBBER_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from connectors.contract import VendorSettings

#: the dated schema version every request names (X-JOBBER-GRAPHQL-VERSION); Jobber supports a version for
#: at least 12 months, so this is bumped on purpose, with the queries checked against the new schema
API_VERSION = "2025-04-16"
SANDBOX_CLIENT_SECRET = "sandbox-jobber-secret"  # what the sandbox and its connector share (sandbox env only)
SANDBOX_REFRESH_TOKEN = "jobber-rt-sandbox-initial"


class TechnicianLink(BaseModel):
    """Who a Jobber user is in fieldbridge: the technician id and the ids the other systems know them by."""

    id: str
    payroll_id: str | None = None
    hr_id: str | None = None
    hourly_rate: Decimal | None = Field(None, ge=0)  # required the first time fieldbridge sees the technician
    bill_rate: Decimal | None = Field(None, ge=0)
    timezone: str | None = None


def _json_map(value: Any, name: str) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if not text.startswith("{"):  # a path to a JSON file
            from pathlib import Path

            path = Path(text).expanduser()
            if not path.is_file():
                raise ValueError(f"FIELDBRIDGE_JOBBER_{name.upper()}: {text!r} is neither JSON nor a file")
            text = path.read_text()
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"FIELDBRIDGE_JOBBER_{name.upper()} is not valid JSON: {exc}") from exc
    return value


class JobberSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_JOBBER_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8708"  # https://api.getjobber.com (GraphQL at /api/graphql)
    api_version: str = API_VERSION
    client_id: str = "sandbox-jobber-client"
    # the app's client secret, also the webhook signing key: unset, every webhook is refused (fail closed)
    client_secret: SecretStr | None = None
    # a first refresh token, if not connected with `fieldbridge connect jobber` (rotated ones live in the database)
    refresh_token: SecretStr | None = None
    redirect_uri: str = "http://127.0.0.1:8700/oauth/jobber/callback"  # the app's Callback URL
    # Jobber user (its id, or its email) → technician: {"sam@shop.example": {"id": "T01", "payroll_id": "…",
    # "hourly_rate": "38.00", "bill_rate": "95.00"}}; inline JSON or a path to a JSON file
    technicians: Annotated[dict[str, TechnicianLink], NoDecode] = {}
    # Jobber product or service (its id, or its name) → the price-book SKU its line items are billed as;
    # a product whose name is a SKU, or the name of a price-book item, needs no entry
    items: Annotated[dict[str, str], NoDecode] = {}
    # time sheet entry labels that mean travel (comma-separated in the environment); every other entry is work
    travel_labels: Annotated[tuple[str, ...], NoDecode] = ("travel", "drive", "driving")
    expenses_billable: bool = True  # Jobber expenses on a job are billed to the customer
    job_id_prefix: str = "JB"  # fieldbridge's job id is this + Jobber's job number
    # nodes per connection page (`first`, at most 100): a query is let through only when the bucket holds its cost
    # at full pages, so 20 — more visits, entries and lines than a repair job has — keeps a job to one request
    # at about 1,000 points (benchmarks/jobber_source.py)
    page_size: int = Field(20, ge=1, le=100)

    @field_validator("technicians", mode="before")
    @classmethod
    def _technicians(cls, value: Any) -> Any:
        return _json_map(value, "technicians")

    @field_validator("items", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return _json_map(value, "items")

    @field_validator("travel_labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip().lower() for p in value.split(",") if p.strip())
        return value

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/graphql"

    @property
    def token_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/oauth/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/oauth/authorize"
