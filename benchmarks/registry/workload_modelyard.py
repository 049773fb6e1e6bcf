"""modelyard side of the registry benchmark.

    python workload_modelyard.py WORKLOAD STORE_DIR   -> prints one JSON object

Run with the project's interpreter (run.py uses its own sys.executable).
Kept line-for-line parallel with workload_mlflow.py: the same work, the same
data (from _common.py), only the tool's calls differ.

The *_loader workloads are internal: load_second and load_big register in this
process, then time the loads in a brand-new interpreter (C.run_fresh). The
working directory is the store, so modelyard's home (and with it its local
model cache, ./.modelyard/cache) is new for every repeat too.
"""

from __future__ import annotations

import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

TOOL = "modelyard"
WORKLOADS = ["register_live", "load_second", "load_second_loader",
             "load_big", "load_big_loader", "noop"]
SCRIPT = os.path.abspath(__file__)

_t_import = time.perf_counter()
import modelyard  # noqa: E402
from modelyard import Client  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import


def sqlite_uri(store_dir: str) -> str:
    return f"sqlite:///{store_dir}/m.db"


def artifact_uri(store_dir: str) -> str:
    return f"{store_dir}/artifacts"


def tool_version() -> str | None:
    return getattr(modelyard, "__version__", None)


def base_info(workload: str, **kw) -> dict:
    return {"tool": TOOL, "workload": workload, "tool_version": tool_version(),
            "import_s": round(IMPORT_S, 3), **kw}


def max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class BigModel(modelyard.PythonModel):
    """Holds a 50 MB float64 array; predicts its sum (one value per input row)."""

    def __init__(self, arr):
        self.arr = arr

    def predict(self, model_input, params=None):
        return [float(self.arr.sum())] * len(model_input)


# ------------------------------------------------------------- register_live


def register_live(args) -> dict:
    model, X, fit_s = C.fit_gbc()
    example = X.head(5)
    client = Client(sqlite_uri(args.store_dir), artifact_uri=artifact_uri(args.store_dir))
    n = C.scaled(C.REGISTER_N, args.scale)

    def once():
        return client.register_model(C.MODEL_NAME, model, input_example=example)

    warmup_ms = []
    for _ in range(C.REGISTER_WARMUP):
        t0 = time.perf_counter()
        once()
        warmup_ms.append(1000 * (time.perf_counter() - t0))

    times_ms, versions = [], []
    for i in range(n):
        t0 = time.perf_counter()
        mv = once()
        times_ms.append(1000 * (time.perf_counter() - t0))
        versions.append(int(mv.version))
        C.progress(f"{TOOL} register_live {i + 1}/{n}: {times_ms[-1]:.0f} ms (version {mv.version})")

    return base_info("register_live", variant="pickle", n=n, fit_s=round(fit_s, 3),
                     warmup_ms=[round(t, 2) for t in warmup_ms],
                     median_ms=round(C.median(times_ms), 2), p90_ms=round(C.percentile(times_ms, 90), 2),
                     times_ms=[round(t, 2) for t in times_ms], versions=versions,
                     versions_ok=versions == list(range(C.REGISTER_WARMUP + 1, C.REGISTER_WARMUP + n + 1)),
                     store_mb_after=round(C.dir_bytes(args.store_dir) / 2**20, 2))


# --------------------------------------------------------------- load_second


def load_second(args) -> dict:
    model, X, _fit_s = C.fit_gbc()
    client = Client(sqlite_uri(args.store_dir), artifact_uri=artifact_uri(args.store_dir))
    t0 = time.perf_counter()
    mv = client.register_model(C.MODEL_NAME, model, input_example=X.head(5))
    register_ms = 1000 * (time.perf_counter() - t0)
    C.write_expected(args.store_dir, predictions=C.as_list(model.predict(X)))
    del client

    loader = C.run_fresh(SCRIPT, "load_second_loader", args.store_dir, "--scale", repr(args.scale))
    if loader.get("error"):
        raise SystemExit(f"load_second_loader failed: {loader}")
    keys = ["first_load_ms", "second_load_ms", "repeat_load_median_ms",
            "repeat_load_p90_ms", "repeat_load_min_ms", "repeat_load_n", "repeat_loads_same_object",
            "predictions_ok", "max_rss_mb", "process_wall_s"]
    return base_info("load_second", variant="pickle", api="modelyard.load_model",
                     registered_version=int(mv.version), setup_register_ms=round(register_ms, 2),
                     **C.flatten("", loader, keys), loader_import_s=loader.get("import_s"),
                     loader_times_ms=loader.get("times_ms"))


def load_second_loader(args) -> dict:
    uri = f"models:/{C.MODEL_NAME}/1"
    modelyard.set_tracking_uri(sqlite_uri(args.store_dir))
    n = C.scaled(C.LOAD_N, args.scale)

    t0 = time.perf_counter()
    first = modelyard.load_model(uri)
    first_ms = 1000 * (time.perf_counter() - t0)

    times_ms, same = [], True
    for _ in range(n):
        t0 = time.perf_counter()
        again = modelyard.load_model(uri)
        times_ms.append(1000 * (time.perf_counter() - t0))
        same = same and again is first

    X, _ = C.breast_cancer()
    ok = C.as_list(first.predict(X)) == C.read_expected(args.store_dir)["predictions"]
    return base_info("load_second_loader", first_load_ms=round(first_ms, 3),
                     second_load_ms=round(times_ms[0], 4),
                     repeat_load_median_ms=round(C.median(times_ms), 4),
                     repeat_load_p90_ms=round(C.percentile(times_ms, 90), 4),
                     repeat_load_min_ms=round(min(times_ms), 4), repeat_load_n=n,
                     repeat_loads_same_object=same, predictions_ok=ok, max_rss_mb=max_rss_mb(),
                     times_ms=[round(t, 4) for t in times_ms])


# ------------------------------------------------------------------ load_big


def load_big(args) -> dict:
    arr = C.big_array(args.scale)
    client = Client(sqlite_uri(args.store_dir), artifact_uri=artifact_uri(args.store_dir))
    t0 = time.perf_counter()
    mv = client.register_model(C.BIG_NAME, BigModel(arr), input_example={"x": [1.0]})
    register_s = time.perf_counter() - t0
    C.write_reference(args.store_dir, arr)
    C.write_expected(args.store_dir, total=float(arr.sum()), array_bytes=int(arr.nbytes))
    artifacts_mb = C.dir_bytes(artifact_uri(args.store_dir)) / 2**20
    del client, arr

    loader = C.run_fresh(SCRIPT, "load_big_loader", args.store_dir)
    if loader.get("error"):
        raise SystemExit(f"load_big_loader failed: {loader}")
    keys = ["first_load_s", "reference_s", "reference_after_s", "reference_mb",
            "load_over_reference", "second_load_s", "predict_ok", "max_rss_mb", "process_wall_s"]
    return base_info("load_big", variant="cloudpickle", api="modelyard.load_model",
                     registered_version=int(mv.version), setup_register_s=round(register_s, 3),
                     artifacts_mb=round(artifacts_mb, 2), loader_import_s=loader.get("import_s"),
                     **C.flatten("", loader, keys))


def load_big_loader(args) -> dict:
    uri = f"models:/{C.BIG_NAME}/1"
    modelyard.set_tracking_uri(sqlite_uri(args.store_dir))
    ref_path = os.path.join(args.store_dir, C.REFERENCE_FILE)

    ref_s, ref_bytes, _ = C.read_sha256(ref_path)

    t0 = time.perf_counter()
    model = modelyard.load_model(uri)
    load_s = time.perf_counter() - t0

    ref_after_s, _, _ = C.read_sha256(ref_path)
    t0 = time.perf_counter()
    modelyard.load_model(uri)  # information only: a second load in the same process
    second_s = time.perf_counter() - t0
    expected = C.read_expected(args.store_dir)["total"]
    pred = C.as_list(model.predict({"x": [1.0]}))
    return base_info("load_big_loader", first_load_s=round(load_s, 4), reference_s=round(ref_s, 4),
                     reference_after_s=round(ref_after_s, 4), reference_mb=round(ref_bytes / 2**20, 2),
                     load_over_reference=round(load_s / ref_s, 2), second_load_s=round(second_s, 4),
                     predict_ok=len(pred) == 1 and abs(pred[0] - expected) <= 1e-9 * abs(expected),
                     max_rss_mb=max_rss_mb())


# ---------------------------------------------------------------------- main


def main() -> None:
    args = C.parse_args(WORKLOADS)
    w = args.workload
    if w == "noop":
        C.emit(base_info("noop"))
    elif w == "register_live":
        C.emit(register_live(args))
    elif w == "load_second":
        C.emit(load_second(args))
    elif w == "load_second_loader":
        C.emit(load_second_loader(args))
    elif w == "load_big":
        C.emit(load_big(args))
    elif w == "load_big_loader":
        C.emit(load_big_loader(args))


if __name__ == "__main__":
    main()
