"""Baseline: the schema of release 2331384, the last one without migrations

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-30

Exactly what that release's `create_all` made (models/canonical.py and models/integration.py of 2331384),
so a database it created is stamped here and upgraded from here. Enum columns store the member names, as
SQLAlchemy does for a Python enum: VARCHAR of the longest name on SQLite, an ENUM type on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime
MONEY = sa.String(40)  # models.types.DecimalString: exact decimal text


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("bill_line1", sa.String(), nullable=True),
        sa.Column("bill_city", sa.String(), nullable=True),
        sa.Column("bill_state", sa.String(), nullable=True),
        sa.Column("bill_postal_code", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "technician",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("hourly_rate", MONEY, nullable=False),
        sa.Column("bill_rate", MONEY, nullable=False),
        sa.Column("payroll_id", sa.String(), nullable=True),
        sa.Column("hr_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "pricebookitem",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("taxable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "externalref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("canonical_id", sa.String(), nullable=False),
        sa.Column("vendor_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "entity", "canonical_id"),
    )
    op.create_table(
        "effect",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("status", sa.Enum("PENDING", "IN_FLIGHT", "DONE", "FAILED", name="effectstatus"), nullable=False),
        sa.Column("vendor_id", sa.String(), nullable=True),
        sa.Column("payload_hash", sa.String(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rejections", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_effect_system", "effect", ["system"])
    op.create_index("ix_effect_job_id", "effect", ["job_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("released_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quarantine_job_id", "quarantine", ["job_id"])
    op.create_table(
        "validatedjob",
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("passed_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("checks_run", sa.Integer(), nullable=False),
        sa.Column("paid_weeks", sa.Text(), server_default="[]", nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(  # declared by that release, never written by it; 0002 carries any rows to inbox_event
        "inboundevent",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("line1", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("postal_code", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_site_customer_id", "site", ["customer_id"])
    op.create_table(
        "job",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("status", sa.Enum("SCHEDULED", "IN_PROGRESS", "CLOSED", name="jobstatus"), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("closed_at", UTC_TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_customer_id", "job", ["customer_id"])
    op.create_table(
        "jobtechnician",
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("technician_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["technician_id"], ["technician.id"]),
        sa.PrimaryKeyConstraint("job_id", "technician_id"),
    )
    op.create_table(
        "timeentry",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("technician_id", sa.String(), nullable=False),
        sa.Column("kind", sa.Enum("WORK", "TRAVEL", "BREAK", name="entrykind"), nullable=False),
        sa.Column("start", UTC_TIMESTAMP, nullable=False),
        sa.Column("end", UTC_TIMESTAMP, nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("commute", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["technician_id"], ["technician.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_timeentry_technician_id", "timeentry", ["technician_id"])
    op.create_index("ix_timeentry_job_id", "timeentry", ["job_id"])
    op.create_table(
        "partusage",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_partusage_job_id", "partusage", ["job_id"])
    op.create_table(
        "expense",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_expense_job_id", "expense", ["job_id"])
    op.create_table(
        "note",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("technician_id", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["technician_id"], ["technician.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_note_job_id", "note", ["job_id"])


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
