"""The feature server app for ``uvicorn`` (configured by environment, one per worker)."""

from __future__ import annotations

import os

from modelyard.features import FeatureStore
from modelyard.server._features_app import feature_server

app = feature_server(FeatureStore(repo_path=os.environ.get("MODELYARD_FEATURE_REPO", ".")))
