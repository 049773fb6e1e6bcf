"""Pipelines: runs (with leases, and one row per schedule firing), step runs, the step
cache, and schedules.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(512), nullable=False),
        sa.Column("firing_key", sa.String(512), nullable=True, unique=True),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("started_time", sa.BigInteger, nullable=True),
        sa.Column("ended_time", sa.BigInteger, nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_pipeline_runs_status", "pipeline_runs", ["status", "lease_expires"])
    op.create_table(
        "step_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(256), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=True),
        sa.Column("started_time", sa.BigInteger, nullable=False),
        sa.Column("ended_time", sa.BigInteger, nullable=True),
        sa.Column("links", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_step_runs_run", "step_runs", ["run_id"])
    op.create_table(
        "step_cache",
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(256), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_table("step_cache")
    op.drop_table("step_runs")
    op.drop_table("pipeline_runs")
