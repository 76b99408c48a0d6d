"""The effect ledger remembers the version its last write left a record at: effect.vendor_version

Revision ID: 0004_effect_vendor_version
Revises: 0003_rate_bucket
Create Date: 2026-11-30

A mutable effect (a technician's day at payroll, rewritten as each of their jobs closes) sends its next
update with the version the vendor returned for the last one, and reads the record only when the vendor
answers 409: one call per update instead of two. Existing rows start without a version (their next update
reads once, then remembers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_effect_vendor_version"
down_revision = "0003_rate_bucket"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "vendor_version" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("effect")}:
        return
    op.add_column("effect", sa.Column("vendor_version", sa.String(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("fieldbridge ships no downgrades: restore the backup taken before upgrading")
