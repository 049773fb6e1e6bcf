"""The team server: retried writes remembered by request id, users with hashed tokens and
roles (global, per experiment, per registered model), and the audit of every write.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
    )
    op.create_index("ix_request_log_at", "request_log", ["at"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "user_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_name", sa.String(256), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_user_tokens_user", "user_tokens", ["user_name"])
    op.create_table(
        "permissions",
        sa.Column(
            "user_name", sa.String(256), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("resource_kind", sa.String(16), primary_key=True),
        sa.Column("resource_id", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_table(
        "write_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
    )
    op.create_index("ix_write_audit_at", "write_audit", ["at"])


def downgrade() -> None:
    op.drop_table("write_audit")
    op.drop_table("permissions")
    op.drop_index("ix_user_tokens_user", "user_tokens")
    op.drop_table("user_tokens")
    op.drop_table("users")
    op.drop_index("ix_request_log_at", "request_log")
    op.drop_table("request_log")
