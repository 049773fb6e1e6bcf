"""Monitoring at any size: mergeable profiles of the prediction log per endpoint and hour, and
the cursor of the files already profiled.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_profiles",
        sa.Column("endpoint", sa.String(128), primary_key=True),
        sa.Column("hour_start", sa.BigInteger, primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("profile", sa.LargeBinary, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_seen_files",
        sa.Column("endpoint", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("seen_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_seen_folders",
        sa.Column("endpoint", sa.String(128), primary_key=True),
        sa.Column("folder", sa.String(64), primary_key=True),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("monitor_seen_folders")
    op.drop_table("monitor_seen_files")
    op.drop_table("monitor_profiles")
