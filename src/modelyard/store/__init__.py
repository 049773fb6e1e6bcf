"""The storage layer for metadata: SQLAlchemy over SQLite or PostgreSQL, migrated by Alembic."""

from modelyard.store._migrate import HEAD
from modelyard.store._registry_store import RegistryStore
from modelyard.store._requests import RequestScope, current_scope, request_scope
from modelyard.store._run_pages import MetricSeries, RunKeys, RunsPage
from modelyard.store._sql_store import SqlStore
from modelyard.store._user_store import ROLES, AuditedWrite, User, UserStore
from modelyard.store._webhook_store import Delivery, Webhook, WebhookStore

__all__ = [
    "HEAD",
    "ROLES",
    "AuditedWrite",
    "Delivery",
    "MetricSeries",
    "RegistryStore",
    "RequestScope",
    "RunKeys",
    "RunsPage",
    "SqlStore",
    "User",
    "UserStore",
    "Webhook",
    "WebhookStore",
    "current_scope",
    "request_scope",
]
