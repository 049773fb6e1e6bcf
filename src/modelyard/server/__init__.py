"""HTTP interfaces over the services: today the feature server."""

from modelyard.server._features_app import feature_server

__all__ = ["feature_server"]
