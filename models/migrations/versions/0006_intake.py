"""CRM intake and briefs: crm_case (case → job), intake_cursor (how far each CRM was read), visit_brief

Revision ID: 0006_intake
Revises: 0005_schedule
Create Date: 2026-11-30

New tables only (models/intake.py, models/schedule.py VisitBrief); created only when missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_intake"
down_revision = "0005_schedule"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "crm_case" not in tables:
        op.create_table(
            "crm_case",
            sa.Column("system", sa.String(), nullable=False),
            sa.Column("case_id", sa.String(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("open", sa.Boolean(), nullable=False),
            sa.Column("cancelled", sa.Boolean(), nullable=False),
            sa.Column("modified_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("linked", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("system", "case_id"),
        )
        op.create_index("ix_crm_case_job_id", "crm_case", ["job_id"], unique=True)
    if "intake_cursor" not in tables:
        op.create_table(
            "intake_cursor",
            sa.Column("system", sa.String(), nullable=False),
            sa.Column("modified_since", UTC_TIMESTAMP, nullable=False),
            sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
            sa.PrimaryKeyConstraint("system"),
        )
    if "visit_brief" not in tables:
        op.create_table(
            "visit_brief",
            sa.Column("visit_id", sa.String(), nullable=False),
            sa.Column("technician_id", sa.String(), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("markdown", sa.Text(), nullable=False),
            sa.Column("built_at", UTC_TIMESTAMP, nullable=False),
            sa.PrimaryKeyConstraint("visit_id"),
        )
        op.create_index("ix_visit_brief_technician_id", "visit_brief", ["technician_id"])
        op.create_index("ix_visit_brief_day", "visit_brief", ["day"])


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
