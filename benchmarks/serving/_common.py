"""Shared, tool-agnostic bits of the serving benchmark.

Imported by the project's interpreter (run.py, prepare.py, lean_app.py, batch_pandas.py)
and by the peers' virtualenvs (bento_service.py, prepare_mlflow.py), so it imports only
the standard library at module level.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MODEL_NAME = "bc"            # modelyard registered model (native engine)
ONNX_MODEL_NAME = "bc-onnx"  # the same estimator registered with onnx=True
LGBM_NAME = "lgbm"           # batch scoring model
GBC_PARAMS = {"n_estimators": 100, "random_state": 0}
ROW_INDEX = 0                # which breast-cancer row every request sends
INPROC_CALLS = 2000          # in-process predict timings (median reported)

# batch scoring
BATCH_FEATURES = 20
BATCH_FIT_ROWS = 200_000
BATCH_CHUNK_ROWS = 200_000
LGBM_PARAMS = {"n_estimators": 100, "random_state": 0, "verbose": -1}

# files inside the work folder (written by prepare.py / prepare_mlflow.py)
PICKLE = "bc.pkl"            # the fitted GradientBoostingClassifier, loaded by every server
META = "bc-meta.json"        # column order, the request row, the expected answer
MLFLOW_MODEL = "mlflow-model"
STORE = "store"              # modelyard tracking folder
LGBM_PICKLE = "lgbm.pkl"


def batch_file(work: str | os.PathLike[str], rows: int) -> Path:
    return Path(work) / f"batch-{rows}.parquet"


def load_meta(work: str | os.PathLike[str]) -> dict:
    return json.loads((Path(work) / META).read_text())


def records_body(meta: dict) -> bytes:
    """modelyard native / lean / BentoML body: {"records": [{col: value, ...}]}."""
    row = dict(zip(meta["columns"], meta["row"], strict=True))
    return json.dumps({"records": [row]}, separators=(",", ":")).encode()


def split_body(meta: dict) -> bytes:
    """MLflow scoring body (also accepted by modelyard's /invocations)."""
    return json.dumps({"dataframe_split": {"columns": meta["columns"], "data": [meta["row"]]}},
                      separators=(",", ":")).encode()


def v2_body(meta: dict) -> bytes:
    """Open Inference Protocol v2 body: one FP64 tensor per column."""
    inputs = [{"name": c, "shape": [1], "datatype": "FP64", "data": [v]}
              for c, v in zip(meta["columns"], meta["row"], strict=True)]
    return json.dumps({"inputs": inputs}, separators=(",", ":")).encode()
