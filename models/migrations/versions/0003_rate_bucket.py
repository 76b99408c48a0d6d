"""Vendor rate budgets shared by every worker: the rate_bucket table

Revision ID: 0003_rate_bucket
Revises: 0002_inbox_tokens_hours
Create Date: 2026-11-30

One token bucket per vendor + tenant + endpoint (models/rate_budget.py). Used on PostgreSQL; created on
SQLite too, as `create_all` of the models does, so both paths build the same schema. Created only when
missing: a database `create_all` made while the table was being introduced already has it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_rate_bucket"
down_revision = "0002_inbox_tokens_hours"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime


def upgrade() -> None:
    if "rate_bucket" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("paused_until", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
