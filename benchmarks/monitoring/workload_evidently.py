"""Evidently side of the monitoring benchmark (run with benchmarks/.venvs/evidently/bin/python).

    workload_evidently.py speed    REF CUR
    workload_evidently.py accuracy DATA_DIR N SCENARIO SEED [SEED ...]

Report([DataDriftPreset()]) with the preset's default settings (per-column method and
threshold auto-selected by Evidently). The column roles are declared (20 numerical,
5 categorical) so nothing depends on type inference. The per-column verdicts are
Evidently's own: the "Value Drift for column X" test attached to each ValueDrift metric
(FAIL = drift detected; Report(include_tests=True) only makes Evidently return them), and
they are cross-checked against the preset's DriftedColumnsCount. Prints one JSON line.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

warnings.filterwarnings("ignore")

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402


def run_drift(ref, cur) -> dict:
    definition = DataDefinition(numerical_columns=C.NUMERIC, categorical_columns=C.CATEGORICAL)
    r = Dataset.from_pandas(ref, data_definition=definition)
    c = Dataset.from_pandas(cur, data_definition=definition)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=c, reference_data=r)
    d = snapshot.dict()
    flags: dict[str, bool] = {}
    methods: dict[str, str] = {}
    scores: dict[str, float] = {}
    count = None
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            count = m["value"]["count"]
        elif cfg["type"].endswith("ValueDrift"):
            methods[cfg["column"]] = f"{cfg.get('method')} (threshold {cfg.get('threshold')})"
            scores[cfg["column"]] = m["value"]
    prefix = "Value Drift for column "
    for t in d["tests"]:
        if t["name"].startswith(prefix):
            flags[t["name"][len(prefix):]] = t["status"].upper().endswith("FAIL")
    if set(flags) != set(C.COLUMNS):
        raise RuntimeError(f"Evidently returned drift tests for {sorted(flags)}")
    if count is not None and int(count) != sum(flags.values()):
        raise RuntimeError(f"DriftedColumnsCount {count} != per-column FAILs {sum(flags.values())}")
    return {"flags": flags, "methods": methods, "scores": scores, "drifted_count": count}


def main() -> None:
    mode = sys.argv[1]
    if mode == "speed":
        ref, cur = C.load(sys.argv[2]), C.load(sys.argv[3])
        loaded = C.rss_mib()
        with C.Phase() as ph:
            out = run_drift(ref, cur)
        C.emit({"mode": mode, "n": len(cur), "rss_after_load_mib": loaded, **ph.result(),
                "drifted_columns": [k for k, v in out["flags"].items() if v],
                "methods": sorted(set(out["methods"].values()))})
    elif mode == "accuracy":
        data_dir, n, scenario, seeds = sys.argv[2], int(sys.argv[3]), sys.argv[4], [int(s) for s in sys.argv[5:]]
        per_seed = []
        for seed in seeds:
            ref_p, cur_p = C.data_paths(data_dir, n, seed, scenario)
            ref, cur = C.load(ref_p), C.load(cur_p)
            t0 = time.perf_counter()
            out = run_drift(ref, cur)
            per_seed.append({"seed": seed, "seconds": round(time.perf_counter() - t0, 4),
                             "flags": out["flags"], "scores": out["scores"],
                             "methods": sorted(set(out["methods"].values()))})
            C.progress(f"evidently n={n} {scenario} seed={seed}: {[k for k, v in out['flags'].items() if v]}")
        C.emit({"mode": mode, "n": n, "scenario": scenario, "per_seed": per_seed})
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
