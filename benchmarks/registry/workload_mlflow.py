"""MLflow side of the registry benchmark.

    python workload_mlflow.py WORKLOAD STORE_DIR      -> prints one JSON object

Run with the interpreter of benchmarks/.venvs/mlflow (run.py does this).
Kept line-for-line parallel with workload_modelyard.py: the same work, the
same data (from _common.py), only the tool's calls differ.

MLflow has no "register a live object" call: a user logs the model in a run
with registered_model_name=..., which saves it and registers it in one call.
That is what register_live times (start_run included). The scikit-learn model is
saved in two formats (see SKLEARN_FORMATS): *_cloudpickle script workloads are
the second MLflow variant. load_second times both
mlflow.pyfunc.load_model and mlflow.sklearn.load_model, each in its own fresh
interpreter.
"""

from __future__ import annotations

import importlib
import inspect
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

TOOL = "mlflow"
WORKLOADS = ["register_live", "register_live_cloudpickle", "load_second", "load_second_cloudpickle",
             "load_second_loader", "load_big", "load_big_loader", "noop"]
SCRIPT = os.path.abspath(__file__)
LOAD_APIS = ("pyfunc", "sklearn")

_t_import = time.perf_counter()
import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import


def sqlite_uri(store_dir: str) -> str:
    return f"sqlite:///{store_dir}/m.db"


def artifact_uri(store_dir: str) -> str:
    return Path(store_dir, "artifacts").as_uri()


def base_info(workload: str, **kw) -> dict:
    return {"tool": TOOL, "workload": workload, "tool_version": mlflow.__version__,
            "import_s": round(IMPORT_S, 3), **kw}


def max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def name_kw(log_model) -> dict:
    """MLflow 3 calls the model's name `name`; 2.x called it `artifact_path`."""
    params = inspect.signature(log_model).parameters
    return {"name": "model"} if "name" in params else {"artifact_path": "model"}


def setup_tracking(store_dir: str) -> None:
    """The same sqlite:/// URI as modelyard's, artifacts in the store dir (not ./mlruns)."""
    mlflow.set_tracking_uri(sqlite_uri(store_dir))
    exp_id = mlflow.create_experiment("registry", artifact_location=artifact_uri(store_dir))
    mlflow.set_experiment(experiment_id=exp_id)


# MLflow 3.x saves scikit-learn models with skops by default, and its log_model refuses a
# GradientBoostingClassifier ("untrusted types: sklearn.tree._tree.Tree") unless the user
# lists that type as trusted. Two ways a user gets the brief's call through:
#   skops       - the default format, with the one type trusted (MLflow's recommended path)
#   cloudpickle - serialization_format="cloudpickle" (MLflow 2.x's default; like modelyard,
#                 a pickle)
SKLEARN_FORMATS = {
    "skops": {"skops_trusted_types": ["sklearn.tree._tree.Tree"]},
    "cloudpickle": {"serialization_format": "cloudpickle"},
}


def sklearn_kw(variant: str) -> dict:
    return dict(SKLEARN_FORMATS[variant])


def sklearn_serialization(store_dir: str) -> str | None:
    """The serialization format MLflow chose for the sklearn flavor (read from MLmodel)."""
    import yaml

    for root, _dirs, files in os.walk(store_dir):
        if "MLmodel" in files:
            with open(os.path.join(root, "MLmodel")) as f:
                doc = yaml.safe_load(f)
            fmt = ((doc.get("flavors") or {}).get("sklearn") or {}).get("serialization_format")
            if fmt:
                return fmt
    return None


class BigModel(mlflow.pyfunc.PythonModel):
    """Holds a 50 MB float64 array; predicts its sum (one value per input row)."""

    def __init__(self, arr):
        self.arr = arr

    def predict(self, context, model_input, params=None):
        return [float(self.arr.sum())] * len(model_input)


# ------------------------------------------------------------- register_live


def register_live(args, variant: str) -> dict:
    mlflow_sklearn = importlib.import_module("mlflow.sklearn")

    model, X, fit_s = C.fit_gbc()
    example = X.head(5)
    setup_tracking(args.store_dir)
    n = C.scaled(C.REGISTER_N, args.scale)
    kw = {**name_kw(mlflow_sklearn.log_model), **sklearn_kw(variant)}

    def once():
        with mlflow.start_run():
            return mlflow_sklearn.log_model(model, **kw, input_example=example,
                                            registered_model_name=C.MODEL_NAME)

    warmup_ms = []
    for _ in range(C.REGISTER_WARMUP):
        t0 = time.perf_counter()
        once()
        warmup_ms.append(1000 * (time.perf_counter() - t0))

    times_ms, versions = [], []
    for i in range(n):
        t0 = time.perf_counter()
        info = once()
        times_ms.append(1000 * (time.perf_counter() - t0))
        versions.append(int(info.registered_model_version))
        C.progress(f"{TOOL} register_live {i + 1}/{n}: {times_ms[-1]:.0f} ms "
                   f"(version {info.registered_model_version})")

    return base_info("register_live", variant=variant, n=n, fit_s=round(fit_s, 3),
                     api=f"start_run + sklearn.log_model(..., {', '.join(kw)}, input_example=..., "
                         "registered_model_name=...)",
                     warmup_ms=[round(t, 2) for t in warmup_ms],
                     median_ms=round(C.median(times_ms), 2), p90_ms=round(C.percentile(times_ms, 90), 2),
                     times_ms=[round(t, 2) for t in times_ms], versions=versions,
                     versions_ok=versions == list(range(C.REGISTER_WARMUP + 1, C.REGISTER_WARMUP + n + 1)),
                     signature_inferred=info.signature is not None,
                     sklearn_serialization_format=sklearn_serialization(args.store_dir),
                     store_mb_after=round(C.dir_bytes(args.store_dir) / 2**20, 2))


# --------------------------------------------------------------- load_second


def load_second(args, variant: str) -> dict:
    mlflow_sklearn = importlib.import_module("mlflow.sklearn")

    model, X, _fit_s = C.fit_gbc()
    setup_tracking(args.store_dir)
    t0 = time.perf_counter()
    with mlflow.start_run():
        info = mlflow_sklearn.log_model(model, **name_kw(mlflow_sklearn.log_model), **sklearn_kw(variant),
                                        input_example=X.head(5), registered_model_name=C.MODEL_NAME)
    register_ms = 1000 * (time.perf_counter() - t0)
    C.write_expected(args.store_dir, predictions=C.as_list(model.predict(X)))

    out = base_info("load_second", variant=variant, api="pyfunc.load_model / sklearn.load_model",
                    sklearn_serialization_format=sklearn_serialization(args.store_dir),
                    registered_version=int(info.registered_model_version),
                    setup_register_ms=round(register_ms, 2))
    keys = ["first_load_ms", "second_load_ms", "repeat_load_median_ms", "repeat_load_p90_ms",
            "repeat_load_min_ms", "repeat_load_n", "repeat_loads_same_object", "predictions_ok",
            "max_rss_mb", "process_wall_s", "import_s"]
    for api in LOAD_APIS:
        loader = C.run_fresh(SCRIPT, "load_second_loader", args.store_dir,
                             "--scale", repr(args.scale), "--api", api)
        if loader.get("error"):
            raise SystemExit(f"load_second_loader --api {api} failed: {loader}")
        out.update(C.flatten(f"{api}_", loader, keys))
        out[f"{api}_times_ms"] = loader.get("times_ms")
    return out


def load_second_loader(args) -> dict:
    uri = f"models:/{C.MODEL_NAME}/1"
    mlflow.set_tracking_uri(sqlite_uri(args.store_dir))
    n = C.scaled(C.LOAD_N, args.scale)
    if args.api == "sklearn":
        load = importlib.import_module("mlflow.sklearn").load_model
    else:
        load = mlflow.pyfunc.load_model

    t0 = time.perf_counter()
    first = load(uri)
    first_ms = 1000 * (time.perf_counter() - t0)

    times_ms, same = [], True
    for _ in range(n):
        t0 = time.perf_counter()
        again = load(uri)
        times_ms.append(1000 * (time.perf_counter() - t0))
        same = same and again is first

    X, _ = C.breast_cancer()
    ok = C.as_list(first.predict(X)) == C.read_expected(args.store_dir)["predictions"]
    return base_info("load_second_loader", api=args.api, first_load_ms=round(first_ms, 3),
                     second_load_ms=round(times_ms[0], 4),
                     repeat_load_median_ms=round(C.median(times_ms), 4),
                     repeat_load_p90_ms=round(C.percentile(times_ms, 90), 4),
                     repeat_load_min_ms=round(min(times_ms), 4), repeat_load_n=n,
                     repeat_loads_same_object=same, predictions_ok=ok, max_rss_mb=max_rss_mb(),
                     times_ms=[round(t, 4) for t in times_ms])


# ------------------------------------------------------------------ load_big


def load_big(args) -> dict:
    arr = C.big_array(args.scale)
    setup_tracking(args.store_dir)
    t0 = time.perf_counter()
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(**name_kw(mlflow.pyfunc.log_model), python_model=BigModel(arr),
                                       input_example={"x": [1.0]}, registered_model_name=C.BIG_NAME)
    register_s = time.perf_counter() - t0
    C.write_reference(args.store_dir, arr)
    C.write_expected(args.store_dir, total=float(arr.sum()), array_bytes=int(arr.nbytes))
    artifacts_mb = C.dir_bytes(os.path.join(args.store_dir, "artifacts")) / 2**20
    del arr

    loader = C.run_fresh(SCRIPT, "load_big_loader", args.store_dir)
    if loader.get("error"):
        raise SystemExit(f"load_big_loader failed: {loader}")
    keys = ["first_load_s", "reference_s", "reference_after_s", "reference_mb",
            "load_over_reference", "second_load_s", "predict_ok", "max_rss_mb", "process_wall_s"]
    return base_info("load_big", variant="cloudpickle", api="pyfunc.load_model",
                     registered_version=int(info.registered_model_version),
                     setup_register_s=round(register_s, 3), artifacts_mb=round(artifacts_mb, 2),
                     loader_import_s=loader.get("import_s"), **C.flatten("", loader, keys))


def load_big_loader(args) -> dict:
    uri = f"models:/{C.BIG_NAME}/1"
    mlflow.set_tracking_uri(sqlite_uri(args.store_dir))
    ref_path = os.path.join(args.store_dir, C.REFERENCE_FILE)

    ref_s, ref_bytes, _ = C.read_sha256(ref_path)

    t0 = time.perf_counter()
    model = mlflow.pyfunc.load_model(uri)
    load_s = time.perf_counter() - t0

    ref_after_s, _, _ = C.read_sha256(ref_path)
    t0 = time.perf_counter()
    mlflow.pyfunc.load_model(uri)  # information only: a second load in the same process
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
        C.emit(register_live(args, "skops"))
    elif w == "register_live_cloudpickle":
        C.emit(register_live(args, "cloudpickle"))
    elif w == "load_second":
        C.emit(load_second(args, "skops"))
    elif w == "load_second_cloudpickle":
        C.emit(load_second(args, "cloudpickle"))
    elif w == "load_second_loader":
        C.emit(load_second_loader(args))
    elif w == "load_big":
        C.emit(load_big(args))
    elif w == "load_big_loader":
        C.emit(load_big_loader(args))


if __name__ == "__main__":
    main()
