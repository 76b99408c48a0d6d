"""Vendor webhooks, stored before they are acknowledged: a vendor that wants an answer within a second
(Jobber: 1 s) gets it as soon as the delivery is in the database; the run it asks for is started afterwards,
off the request path, and by the ingress sweeper if that start failed. A redelivery of the same body is the
same row (its digest), so it starts nothing new."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import UniqueConstraint, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Column, Field, Session, SQLModel, Text, select

from models.types import UTCDateTime


class VendorWebhook(SQLModel, table=True):
    __tablename__ = "vendor_webhook"
    __table_args__ = (UniqueConstraint("system", "digest"),)
    id: int | None = Field(default=None, primary_key=True)
    system: str
    digest: str  # sha256 of the raw body: Jobber and HubSpot redeliver the same bytes
    deployment: str  # the run it starts, e.g. "field-service-sync/field-service-sync"
    parameters: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deliveries: int = 1
    flow_run_id: str | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))


@dataclass(frozen=True)
class StoredWebhook:
    id: int
    system: str
    digest: str
    deployment: str
    parameters: dict[str, Any]
    flow_run_id: str | None
    duplicate: bool

    @property
    def needs_run(self) -> bool:
        return self.flow_run_id is None


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _row(row: VendorWebhook, duplicate: bool) -> StoredWebhook:
    assert row.id is not None
    return StoredWebhook(row.id, row.system, row.digest, row.deployment, json.loads(row.parameters),
                         row.flow_run_id, duplicate)


def store(engine: Engine, system: str, raw: bytes, deployment: str, parameters: dict[str, Any]) -> StoredWebhook:
    """Keep a verified delivery (or count a redelivery of one kept already)."""
    key = digest(raw)
    now = datetime.now(UTC)
    for _ in range(3):
        with Session(engine, expire_on_commit=False) as s:
            seen = s.exec(select(VendorWebhook).where(VendorWebhook.system == system,
                                                      VendorWebhook.digest == key)).first()
            if seen is not None:
                s.exec(update(VendorWebhook).where(VendorWebhook.id == seen.id)  # type: ignore[call-overload]
                       .values(deliveries=VendorWebhook.deliveries + 1))
                s.commit()
                return _row(seen, True)
            row = VendorWebhook(system=system, digest=key, deployment=deployment,
                                parameters=json.dumps(parameters, sort_keys=True), received_at=now)
            s.add(row)
            try:
                s.commit()
            except IntegrityError:  # a concurrent redelivery stored it first
                s.rollback()
                continue
            return _row(row, False)
    raise RuntimeError(f"could not store the {system} webhook {key[:12]}")


def mark_started(engine: Engine, webhook_id: int, flow_run_id: str) -> None:
    with Session(engine) as s:
        s.exec(update(VendorWebhook).where(VendorWebhook.id == webhook_id)  # type: ignore[call-overload]
               .values(flow_run_id=flow_run_id, last_error=None))
        s.commit()


def mark_start_failed(engine: Engine, webhook_id: int, error: str) -> None:
    with Session(engine) as s:
        s.exec(update(VendorWebhook).where(VendorWebhook.id == webhook_id)  # type: ignore[call-overload]
               .values(last_error=error[:2000]))
        s.commit()


def due_for_run(engine: Engine, older_than_seconds: float = 5.0, limit: int = 500) -> list[StoredWebhook]:
    """Deliveries whose run was never started (Prefect was away, or the ingress died after storing)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    with Session(engine) as s:
        rows = s.exec(select(VendorWebhook).where(VendorWebhook.flow_run_id.is_(None),  # type: ignore[union-attr]
                                                  VendorWebhook.received_at <= cutoff)
                      .order_by(VendorWebhook.received_at).limit(limit))  # type: ignore[arg-type]
        return [_row(r, False) for r in rows]


def run_key(installation: str, hook: StoredWebhook) -> str:
    """The idempotency key of a delivery's run: a redelivery, or the sweeper racing the ingress, finds it."""
    return f"{installation}:webhook:{hook.system}:{hook.digest[:32]}"


def started_run_ids(engine: Engine, limit: int = 2000) -> dict[str, str]:
    """flow run id → what started it, for the most recent started deliveries (the sweeper re-drives crashed and
    transiently failed runs of these too)."""
    with Session(engine) as s:
        rows = s.exec(select(VendorWebhook.flow_run_id, VendorWebhook.system, VendorWebhook.digest)
                      .where(VendorWebhook.flow_run_id.is_not(None))  # type: ignore[union-attr]
                      .order_by(VendorWebhook.received_at.desc()).limit(limit))  # type: ignore[attr-defined]
        return {run_id: f"{system} webhook {digest[:12]}" for run_id, system, digest in rows if run_id}
