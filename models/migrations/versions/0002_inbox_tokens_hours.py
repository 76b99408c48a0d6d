"""Everything since release 2331384: inbox, job sources, installation id, OAuth tokens, hours-worked flags

Revision ID: 0002_inbox_tokens_hours
Revises: 0001_baseline
Create Date: 2026-11-30

The builds between that release and this migration changed the schema with `create_all` only, which adds
missing tables and never columns or enum labels. So a database may reach this revision in any of these
states, and every step checks the inspector first and creates only what is missing:

- 2464154 the inbox: `inbox_event` (unique per source + event id) and `job_source` replace `inboundevent`;
- 1740346 `installation` (this database's identity in run idempotency keys);
- ffb66f5 hours worked by the law: entry kinds MEAL, REST, WAIT, ON_CALL and `timeentry.company_vehicle`,
  `timeentry.relieved` (a PostgreSQL database created before it lacks the labels: inserting one fails);
- d951d0b `oauth_token` (rotating refresh tokens where every worker sees them).

`inboundevent` was declared by the release but never written by it. Rows found there anyway are carried
into `inbox_event` (same source, event id, type, payload, received_at, flow run) as APPLIED, or STARTED when
they name a flow run, so the inbox sweeper starts no run for them, then the table is dropped.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_inbox_tokens_hours"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime
ENTRY_KINDS = ("WORK", "TRAVEL", "BREAK", "MEAL", "REST", "WAIT", "ON_CALL")
INBOX_STATUSES = ("RECEIVED", "STARTED", "APPLIED", "SUPERSEDED")


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if "inbox_event" not in tables:
        op.create_table(
            "inbox_event",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("event_id", sa.String(), nullable=False),
            sa.Column("type", sa.String(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("occurred_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("status", _enum(bind, "inboxstatus", INBOX_STATUSES), nullable=False),
            sa.Column("deliveries", sa.Integer(), nullable=False),
            sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("last_delivery_at", UTC_TIMESTAMP, nullable=True),
            sa.Column("flow_run_id", sa.String(), nullable=True),
            sa.Column("run_started_at", UTC_TIMESTAMP, nullable=True),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("source", "event_id"),
        )
    _index_if_missing(bind, "ix_inbox_event_job_id", "inbox_event", ["job_id"])
    _index_if_missing(bind, "ix_inbox_event_status", "inbox_event", ["status"])
    if "job_source" not in tables:
        op.create_table(
            "job_source",
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("occurred_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("event_id", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("job_id"),
        )
    if "installation" not in tables:
        op.create_table(
            "installation",
            sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
            sa.PrimaryKeyConstraint("singleton"),
        )
    if "oauth_token" not in tables:
        op.create_table(
            "oauth_token",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("access_token", sa.Text(), nullable=False),
            sa.Column("refresh_token", sa.Text(), nullable=False),
            sa.Column("expires_at", sa.Float(), nullable=False),
            sa.Column("extra", sa.Text(), nullable=False),
            sa.Column("updated_at", UTC_TIMESTAMP, nullable=True),
            sa.PrimaryKeyConstraint("key"),
        )
    _time_entry_hours_flags(bind)
    if "inboundevent" in tables:
        _carry_over_inbound_events(bind)
        op.drop_table("inboundevent")


def _enum(bind: sa.engine.Connection, name: str, labels: tuple[str, ...]) -> sa.types.TypeEngine:
    """The enum column type; on PostgreSQL its type is created here if missing (a table dropped by hand
    leaves its type behind, and creating the table must not then fail on the type)."""
    if bind.dialect.name != "postgresql":
        return sa.Enum(*labels, name=name)
    postgresql.ENUM(*labels, name=name).create(bind, checkfirst=True)
    return postgresql.ENUM(*labels, name=name, create_type=False)


def _index_if_missing(bind: sa.engine.Connection, name: str, table: str, columns: list[str]) -> None:
    if name not in {ix["name"] for ix in sa.inspect(bind).get_indexes(table)}:
        op.create_index(name, table, columns)


def _time_entry_hours_flags(bind: sa.engine.Connection) -> None:
    """New entry kinds and the two flags; existing entries were not in a company vehicle (the model's
    default) and their relief from duty was not recorded (NULL)."""
    columns = {c["name"]: c for c in sa.inspect(bind).get_columns("timeentry")}
    added_vehicle = "company_vehicle" not in columns
    if added_vehicle:  # NOT NULL: existing rows need a value, so a default while the column is added
        op.add_column("timeentry", sa.Column("company_vehicle", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))
    if "relieved" not in columns:
        op.add_column("timeentry", sa.Column("relieved", sa.Boolean(), nullable=True))
    if bind.dialect.name == "postgresql":
        for label in ENTRY_KINDS:  # appended in this order, as create_all of the current model orders them
            op.execute(f"ALTER TYPE entrykind ADD VALUE IF NOT EXISTS '{label}'")
        if added_vehicle:
            op.alter_column("timeentry", "company_vehicle", server_default=None)
        return
    # SQLite: the enum is a VARCHAR as long as the longest member name (VARCHAR(6) before ON_CALL), and a
    # default cannot be dropped in place: rebuild the table once (batch mode: copy, drop, rename)
    kind_length = getattr(columns["kind"]["type"], "length", None) or 0
    if added_vehicle or kind_length < max(map(len, ENTRY_KINDS)):
        with op.batch_alter_table("timeentry", recreate="always") as batch:
            batch.alter_column("kind", type_=sa.Enum(*ENTRY_KINDS, name="entrykind"),
                               existing_type=sa.String(kind_length or None), existing_nullable=False)
            batch.alter_column("company_vehicle", server_default=None, existing_type=sa.Boolean(),
                               existing_nullable=False)


def _carry_over_inbound_events(bind: sa.engine.Connection) -> None:
    old = sa.table("inboundevent", sa.column("event_id", sa.String()), sa.column("source", sa.String()),
                   sa.column("type", sa.String()), sa.column("payload", sa.Text()),
                   sa.column("received_at", UTC_TIMESTAMP), sa.column("flow_run_id", sa.String()))
    inbox = sa.table("inbox_event", sa.column("source", sa.String()), sa.column("event_id", sa.String()),
                     sa.column("type", sa.String()), sa.column("job_id", sa.String()),
                     sa.column("occurred_at", UTC_TIMESTAMP), sa.column("payload", sa.Text()),
                     sa.column("status", sa.Enum(*INBOX_STATUSES, name="inboxstatus")),
                     sa.column("deliveries", sa.Integer()),
                     sa.column("received_at", UTC_TIMESTAMP), sa.column("flow_run_id", sa.String()),
                     sa.column("run_started_at", UTC_TIMESTAMP))
    have = {(s, e) for s, e in bind.execute(sa.select(inbox.c.source, inbox.c.event_id))}
    rows = []
    for row in bind.execute(sa.select(old).order_by(old.c.received_at, old.c.event_id)).mappings():
        if (row["source"], row["event_id"]) in have:
            continue
        started = row["flow_run_id"] is not None
        rows.append({
            "source": row["source"], "event_id": row["event_id"], "type": row["type"],
            "job_id": _job_id(row["payload"]), "occurred_at": row["received_at"],  # the nearest time known
            "payload": row["payload"], "status": "STARTED" if started else "APPLIED", "deliveries": 1,
            "received_at": row["received_at"], "flow_run_id": row["flow_run_id"],
            "run_started_at": row["received_at"] if started else None,
        })
    if rows:
        bind.execute(inbox.insert(), rows)


def _job_id(payload: str) -> str:
    """The job a stored delivery was about, when its JSON says so ("" when it does not)."""
    try:
        doc: Any = json.loads(payload)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    job = data.get("job") if isinstance(data.get("job"), dict) else {}
    for found in (job.get("id"), data.get("job_id"), doc.get("job_id")):
        if isinstance(found, str | int) and str(found):
            return str(found)
    return ""
