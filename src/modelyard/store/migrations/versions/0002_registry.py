"""Model registry: registered models, versions, aliases and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("risk_category", sa.String(16), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("gate", sa.Text),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "name", sa.String(256), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("flavor", sa.String(32), nullable=False),
        sa.Column("manifest_digest", sa.String(64), nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("signature", sa.Text),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("lineage", sa.Text, nullable=False),
        sa.Column("risk_category", sa.String(16), nullable=False),
        sa.Column("card", sa.Text, nullable=False),
        sa.Column("approvals", sa.Text, nullable=False),
        sa.Column("evaluation", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column(
            "name", sa.String(256), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("alias", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "registry_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(256)),
        sa.Column("from_version", sa.Integer),
        sa.Column("to_version", sa.Integer),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_registry_audit_name", "registry_audit", ["name", "id"])


def downgrade() -> None:
    for name in ("registry_audit", "model_aliases", "model_versions", "registered_models"):
        op.drop_table(name)
