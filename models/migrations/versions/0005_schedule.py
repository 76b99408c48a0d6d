"""The schedule: visit (dispatch) and unavailability (time off from HR)

Revision ID: 0005_schedule
Revises: 0004_effect_vendor_version
Create Date: 2026-11-30

New tables only (models/schedule.py); created only when missing, like 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_schedule"
down_revision = "0004_effect_vendor_version"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "visit" not in tables:
        op.create_table(
            "visit",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("technician_id", sa.String(), nullable=False),
            sa.Column("start", UTC_TIMESTAMP, nullable=False),
            sa.Column("end", UTC_TIMESTAMP, nullable=False),
            sa.Column("status", sa.Enum("SCHEDULED", "CANCELLED", name="visitstatus"), nullable=False),
            sa.Column("assigned_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("forced", sa.Boolean(), nullable=False),
            sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
            sa.ForeignKeyConstraint(["technician_id"], ["technician.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_visit_job_id", "visit", ["job_id"])
        op.create_index("ix_visit_technician_id", "visit", ["technician_id"])
        op.create_index("ix_visit_start", "visit", ["start"])
    if "unavailability" not in tables:
        op.create_table(
            "unavailability",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("technician_id", sa.String(), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("hours_away", sa.String(length=40), nullable=True),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("request_id", sa.String(), nullable=False),
            sa.Column("synced_at", UTC_TIMESTAMP, nullable=False),
            sa.ForeignKeyConstraint(["technician_id"], ["technician.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_unavailability_technician_id", "unavailability", ["technician_id"])
        op.create_index("ix_unavailability_day", "unavailability", ["day"])


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
