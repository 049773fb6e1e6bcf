"""HTTP interfaces over the services: the team server (native REST API, MLflow REST façade,
users and tokens) and the feature server."""

from modelyard import http as _http  # noqa: F401 - first: says which extra a missing starlette is
from modelyard.server._app import build_state, create_app
from modelyard.server._config import ServerConfig
from modelyard.server._features_app import feature_server

__all__ = ["ServerConfig", "build_state", "create_app", "feature_server"]
