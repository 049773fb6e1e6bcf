"""Prepare the serving benchmark's inputs (run with the project's interpreter).

    python prepare.py serving WORK      # bc.pkl, bc-meta.json, modelyard store (bc, bc-onnx),
                                        # deployment YAMLs
    python prepare.py inproc WORK       # in-process predict timings of the request row
    python prepare.py batch WORK ROWS   # lgbm registered + lgbm.pkl + batch-ROWS.parquet

Prints one JSON line with what it made (and the in-process timings).
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def serving(work: Path) -> dict:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from modelyard.registry import Client

    work.mkdir(parents=True, exist_ok=True)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(**C.GBC_PARAMS).fit(X, y)
    (work / C.PICKLE).write_bytes(pickle.dumps(model, protocol=5))
    columns = [str(c) for c in X.columns]
    row = [float(v) for v in X.iloc[C.ROW_INDEX].tolist()]
    x1 = np.asarray([row], dtype=np.float64)
    expected = int(model.predict(x1)[0])
    proba = model.predict_proba(x1)[0].tolist()

    # modelyard registry: the same fitted object (native) and again with an ONNX graph
    store = work / C.STORE
    client = Client(str(store))
    v = client.register_model(C.MODEL_NAME, model, input_example=X.head(5))
    client.set_registered_model_alias(C.MODEL_NAME, "champion", v.version)
    onnx_error = None
    try:
        vo = client.register_model(C.ONNX_MODEL_NAME, model, input_example=X.head(5), onnx=True)
        client.set_registered_model_alias(C.ONNX_MODEL_NAME, "champion", vo.version)
    except Exception as exc:  # reported, the rest of the benchmark still runs
        onnx_error = f"{type(exc).__name__}: {exc}"

    # deployments
    deps = {
        "deploy-log-on.yaml": {"endpoints": [{"name": C.MODEL_NAME, "routes": [{"model": f"models:/{C.MODEL_NAME}@champion"}]}]},
        "deploy-log-off.yaml": {"endpoints": [{"name": C.MODEL_NAME, "routes": [{"model": f"models:/{C.MODEL_NAME}@champion"}]}],
                                "prediction_log": {"enabled": False}},
        "deploy-onnx.yaml": {"endpoints": [{"name": C.MODEL_NAME, "routes": [{"model": f"models:/{C.ONNX_MODEL_NAME}@champion", "engine": "onnx"}]}]},
    }
    for name, data in deps.items():
        (work / name).write_text(json.dumps(data))  # JSON is YAML

    meta = {"columns": columns, "row": row, "expected_prediction": expected,
            "expected_proba": proba, "onnx_error": onnx_error, "modelyard_version": v.version}
    (work / C.META).write_text(json.dumps(meta, indent=1))
    return {"ok": True, "meta": str(work / C.META), "onnx_error": onnx_error}


def inproc(work: Path) -> dict:
    """In-process timings of the request row: median of INPROC_CALLS after 200 warm-up calls."""
    import warnings

    import numpy as np
    import pandas as pd

    meta = C.load_meta(work)
    model = pickle.loads((work / C.PICKLE).read_bytes())
    row, columns = meta["row"], meta["columns"]
    x1 = np.asarray([row], dtype=np.float64)
    frame1 = pd.DataFrame([row], columns=columns)

    def timeit(fn) -> dict:
        for _ in range(200):
            fn()
        ts = []
        for _ in range(C.INPROC_CALLS):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return {"median_ms": statistics.median(ts) * 1e3, "p99_ms": _percentile(ts, 99) * 1e3}

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    res = {
        "predict_ndarray": timeit(lambda: model.predict(x1)),
        "predict_proba_ndarray": timeit(lambda: model.predict_proba(x1)),
        "predict_dataframe": timeit(lambda: model.predict(frame1)),
    }
    return res


def batch(work: Path, rows: int) -> dict:
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import make_classification

    from modelyard.registry import Client

    cols = [f"f{i:02d}" for i in range(C.BATCH_FEATURES)]
    out = {"ok": True}
    if not (work / C.LGBM_PICKLE).exists():
        Xf, yf = make_classification(n_samples=C.BATCH_FIT_ROWS, n_features=C.BATCH_FEATURES,
                                     n_informative=10, random_state=0)
        frame = pd.DataFrame(Xf, columns=cols)
        model = lgb.LGBMClassifier(**C.LGBM_PARAMS).fit(frame, yf)
        client = Client(str(work / C.STORE))
        v = client.register_model(C.LGBM_NAME, model, input_example=frame.head(5))
        client.set_registered_model_alias(C.LGBM_NAME, "champion", v.version)
        (work / C.LGBM_PICKLE).write_bytes(pickle.dumps(model, protocol=5))
        out["registered"] = v.version
    path = C.batch_file(work, rows)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        rng = np.random.default_rng(0)
        schema = pa.schema([(c, pa.float64()) for c in cols])
        step = 1_000_000
        t0 = time.perf_counter()
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, rows, step):
                n = min(step, rows - start)
                data = rng.standard_normal((n, len(cols))) * 1.5
                writer.write_table(pa.table({c: data[:, i] for i, c in enumerate(cols)}, schema=schema))
        os.replace(tmp, path)
        out["generated_s"] = round(time.perf_counter() - t0, 1)
    out["file"] = str(path)
    out["file_mb"] = round(path.stat().st_size / 1e6, 1)
    return out


def main() -> None:
    kind, work = sys.argv[1], Path(sys.argv[2]).resolve()
    if kind == "serving":
        res = serving(work)
    elif kind == "inproc":
        res = inproc(work)
    elif kind == "batch":
        res = batch(work, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown: {kind}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
