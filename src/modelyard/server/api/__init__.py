"""The native REST API: every operation the Python client's remote store uses, and the
administration of users."""

from modelyard.server.api import (
    _blobs,
    _features,
    _monitoring,
    _pipelines,
    _profiles,
    _registry,
    _tracking,
    _users,
    _webhooks,
)
from modelyard.server.api._tracking import API

OPERATIONS = [
    *_tracking.OPERATIONS,
    *_blobs.OPERATIONS,
    *_registry.OPERATIONS,
    *_users.OPERATIONS,
    *_features.OPERATIONS,
    *_monitoring.OPERATIONS,
    *_profiles.OPERATIONS,
    *_pipelines.OPERATIONS,
    *_webhooks.OPERATIONS,
]

__all__ = ["API", "OPERATIONS"]
