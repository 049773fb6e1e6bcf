"""The metadata tables. Alembic migrations under ``migrations/`` create and change them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("run_name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("parent_run_id", String(32)),
    Column("user_name", String(256), nullable=False),
    Column("context", Text, nullable=False),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key_value", "key", "value"),
)

# Every point of every series: appended, never updated.
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53)),  # NULL stands for NaN
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

# The latest point of each series (highest step, then latest timestamp): what search
# filters and orders on, so its speed does not depend on the length of histories.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53)),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("source_type", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("num_rows", BigInteger),
    Column("schema", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("dataset_name", String(256), primary_key=True),
    Column("dataset_digest", String(64), primary_key=True),
    Column("context", String(64), primary_key=True),
)

# -- model registry ------------------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", Text, nullable=False),
    Column("owner", String(256), nullable=False),
    Column("risk_category", String(16), nullable=False),
    Column("tags", Text, nullable=False),
    Column("gate", Text),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32)),
    Column("flavor", String(32), nullable=False),
    Column("manifest_digest", String(64), nullable=False),
    Column("files", Text, nullable=False),
    Column("signature", Text),
    Column("metrics", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("owner", String(256), nullable=False),
    Column("lineage", Text, nullable=False),
    Column("risk_category", String(16), nullable=False),
    Column("card", Text, nullable=False),
    Column("approvals", Text, nullable=False),
    Column("evaluation", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_model_versions_run", "run_id"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

registry_audit = Table(
    "registry_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("version", Integer),
    Column("action", String(32), nullable=False),
    Column("alias", String(256)),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("actor", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_registry_audit_name", "name", "id"),
)

# -- feature store -------------------------------------------------------------------

feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

materializations = Table(
    "materializations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("view", String(256), nullable=False),
    Column("online_store", Text, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("completed_time", BigInteger, nullable=False),
    Index("ix_materializations_view", "project", "view", "end_time"),
)

monitor_metrics = Table(
    "monitor_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(128), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("column_name", String(256), nullable=False, server_default=""),
    Column("version", String(64), nullable=False, server_default=""),
    Column("route", String(128), nullable=False, server_default=""),
    Column("value", Float, nullable=True),
    Column("computed_time", BigInteger, nullable=False),
    Index("ix_monitor_metrics_series", "endpoint", "name", "window_end"),
)

monitor_profiles = Table(
    "monitor_profiles",
    metadata,
    Column("endpoint", String(128), primary_key=True),
    Column("hour_start", BigInteger, primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("profile", LargeBinary, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

monitor_seen_files = Table(
    "monitor_seen_files",
    metadata,
    Column("endpoint", String(128), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("seen_time", BigInteger, nullable=False),
)

monitor_seen_folders = Table(
    "monitor_seen_folders",
    metadata,
    Column("endpoint", String(128), primary_key=True),
    Column("folder", String(64), primary_key=True),
    Column("mtime_ns", BigInteger, nullable=False),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(256), nullable=False),
    Column("endpoint", String(128), nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("fired_time", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Index("ix_alert_events_rule", "endpoint", "rule", "fired_time"),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger", String(512), nullable=False),
    Column("firing_key", String(512), nullable=True, unique=True),
    Column("params", Text, nullable=False),
    Column("engine", String(16), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("started_time", BigInteger, nullable=True),
    Column("ended_time", BigInteger, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Index("ix_pipeline_runs_status", "status", "lease_expires"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("step", String(256), nullable=False),
    Column("cache_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("output_digest", String(64), nullable=True),
    Column("started_time", BigInteger, nullable=False),
    Column("ended_time", BigInteger, nullable=True),
    Column("links", Text, nullable=False, server_default="{}"),
    Index("ix_step_runs_run", "run_id"),
)

step_cache = Table(
    "step_cache",
    metadata,
    Column("cache_key", String(64), primary_key=True),
    Column("step", String(256), nullable=False),
    Column("output_digest", String(64), nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("cron", String(128), nullable=False),
    Column("params", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

# -- the team server (0006) ---------------------------------------------------------------

request_log = Table(
    "request_log",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("at", BigInteger, nullable=False, index=True),
    Column("actor", String(256), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("result", Text, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(256), ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("label", String(256), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Index("ix_user_tokens_user", "user_name"),
)

permissions = Table(
    "permissions",
    metadata,
    Column("user_name", String(256), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("resource_kind", String(16), primary_key=True),
    Column("resource_id", String(256), primary_key=True),
    Column("role", String(16), nullable=False),
)

write_audit = Table(
    "write_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False, index=True),
    Column("actor", String(256), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("status", Integer, nullable=False),
)

# -- registry webhooks (0008) -------------------------------------------------------------

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # a JSON list of event names
    Column("secret", Text, nullable=False),  # the HMAC key: needed to sign, so not hashed
    Column("created_time", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(32), nullable=False),  # one per event and webhook, shared by its attempts
    Column("webhook_id", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),  # None: no answer (refused, timed out)
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_webhook_deliveries_webhook_at", "webhook_id", "at"),
)
