"""The scoring app for ``uvicorn`` workers, configured by environment (one per worker).

Once the app and its models are loaded, everything alive is moved out of the cyclic garbage
collector's reach (``gc.freeze``): a worker holds over a million objects from its imports
(pandas, scikit-learn, pyarrow, the models), and a full collection walked all of them. With
the prediction log on, the requests queued between flushes outlive two collections, which
sets off full collections every few seconds: each paused the event loop for tens of
milliseconds, the p99 of the requests it caught (ONNX route under wrk: 17 to 106 ms; 11 to 14 ms
frozen). Frozen objects are still freed by reference counting; only cycles among them stay.
"""

from __future__ import annotations

import gc
import os

from modelyard.serving._app import create_app

app = create_app(
    os.environ["MODELYARD_SERVE_TARGET"],
    tracking_uri=os.environ.get("MODELYARD_TRACKING_URI") or None,
)
gc.freeze()
