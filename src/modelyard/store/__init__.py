"""The storage layer for metadata: SQLAlchemy over SQLite or PostgreSQL, migrated by Alembic."""

from modelyard.store._migrate import HEAD
from modelyard.store._registry_store import RegistryStore
from modelyard.store._sql_store import SqlStore

__all__ = ["HEAD", "RegistryStore", "SqlStore"]
