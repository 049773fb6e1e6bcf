"""The team server app for ``uvicorn`` workers, configured by ``MODELYARD_SERVER_CONFIG`` (the
JSON of a ServerConfig, set by ``modelyard server``); one app per worker process."""

from __future__ import annotations

import os

from modelyard.server._app import create_app
from modelyard.server._config import ServerConfig

app = create_app(ServerConfig.model_validate_json(os.environ.get("MODELYARD_SERVER_CONFIG") or "{}"))
