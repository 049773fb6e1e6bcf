"""modelyard side of the monitoring benchmark (run with the project's interpreter).

    workload_modelyard.py speed-raw      REF CUR            detect_drift(reference rows, current)
    workload_modelyard.py profile-build  REF PROFILE_JSON   reference(rows) -> stored profile (JSON)
    workload_modelyard.py speed-profile  PROFILE_JSON CUR   detect_drift(stored profile, current)
    workload_modelyard.py accuracy       DATA_DIR N SCENARIO SEED [SEED ...]

Prints one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

from modelyard.data._reference import reference
from modelyard.monitoring import detect_drift


def flags(report) -> dict[str, bool | None]:
    return {c.column: c.drifted for c in report.columns}


def main() -> None:
    mode = sys.argv[1]
    if mode == "speed-raw":
        ref, cur = C.load(sys.argv[2]), C.load(sys.argv[3])
        loaded = C.rss_mib()
        with C.Phase() as ph:
            report = detect_drift(ref, cur)
        C.emit({"mode": mode, "n": len(cur), "rss_after_load_mib": loaded, **ph.result(),
                "drifted_columns": report.drifted_columns, "n_columns": len(report.columns)})
    elif mode == "profile-build":
        ref = C.load(sys.argv[2])
        loaded = C.rss_mib()
        with C.Phase() as ph:
            prof = reference(ref)
        text = json.dumps(prof)
        tmp = sys.argv[3] + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, sys.argv[3])
        C.emit({"mode": mode, "n": len(ref), "rss_after_load_mib": loaded, **ph.result(),
                "profile_json_bytes": len(text)})
    elif mode == "speed-profile":
        t0 = time.perf_counter()
        with open(sys.argv[2]) as f:
            prof = json.load(f)
        profile_load_s = time.perf_counter() - t0
        cur = C.load(sys.argv[3])
        loaded = C.rss_mib()
        with C.Phase() as ph:
            report = detect_drift(prof, cur)
        C.emit({"mode": mode, "n": len(cur), "rss_after_load_mib": loaded, **ph.result(),
                "profile_load_s": round(profile_load_s, 4),
                "drifted_columns": report.drifted_columns, "n_columns": len(report.columns)})
    elif mode == "accuracy":
        data_dir, n, scenario, seeds = sys.argv[2], int(sys.argv[3]), sys.argv[4], [int(s) for s in sys.argv[5:]]
        per_seed = []
        for seed in seeds:
            ref_p, cur_p = C.data_paths(data_dir, n, seed, scenario)
            ref, cur = C.load(ref_p), C.load(cur_p)
            t0 = time.perf_counter()
            report = detect_drift(ref, cur)
            per_seed.append({"seed": seed, "seconds": round(time.perf_counter() - t0, 4),
                             "flags": flags(report),
                             "p_values": {c.column: c.p_value for c in report.columns}})
            C.progress(f"modelyard n={n} {scenario} seed={seed}: {report.drifted_columns}")
        C.emit({"mode": mode, "n": n, "scenario": scenario, "per_seed": per_seed})
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
