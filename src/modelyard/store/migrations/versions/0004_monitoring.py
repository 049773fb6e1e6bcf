"""Monitoring: per-window results as time series, and fired alerts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("column_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("version", sa.String(64), nullable=False, server_default=""),
        sa.Column("route", sa.String(128), nullable=False, server_default=""),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("computed_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_monitor_metrics_series", "monitor_metrics", ["endpoint", "name", "window_end"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(256), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("fired_time", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_alert_events_rule", "alert_events", ["endpoint", "rule", "fired_time"])


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("monitor_metrics")
