"""HTTP interfaces over the services: today the feature server."""

from modelyard import http as _http  # noqa: F401 - first: says which extra a missing starlette is
from modelyard.server._features_app import feature_server

__all__ = ["feature_server"]
