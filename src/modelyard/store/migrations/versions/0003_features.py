"""Feature store: applied definitions and materialization watermarks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("project", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "materializations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("view", sa.String(256), nullable=False),
        sa.Column("online_store", sa.Text, nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("completed_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_materializations_view", "materializations", ["project", "view", "end_time"])


def downgrade() -> None:
    op.drop_table("materializations")
    op.drop_table("feature_definitions")
