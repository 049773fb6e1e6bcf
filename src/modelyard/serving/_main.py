"""The scoring app for ``uvicorn`` workers, configured by environment (one per worker)."""

from __future__ import annotations

import os

from modelyard.serving._app import create_app

app = create_app(
    os.environ["MODELYARD_SERVE_TARGET"],
    tracking_uri=os.environ.get("MODELYARD_TRACKING_URI") or None,
)
