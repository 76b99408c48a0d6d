"""Vendor webhooks stored before they are acknowledged (models/webhook_inbox.py)

Revision ID: 0007_vendor_webhook
Revises: 0006_intake
Create Date: 2026-12-01

A new table only; created only when missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_vendor_webhook"
down_revision = "0006_intake"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)  # models.types.UTCDateTime


def upgrade() -> None:
    if "vendor_webhook" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "vendor_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("deployment", sa.String(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "digest"),
    )


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
