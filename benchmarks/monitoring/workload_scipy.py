"""Plain NumPy/SciPy floor (run with the project's interpreter; scipy is installed there).

    workload_scipy.py speed REF CUR

scipy.stats.ks_2samp per numeric column on the raw values, scipy.stats.chi2_contingency
per categorical column on the 2 x k table of counts (pandas value_counts); no profiles, no effect sizes, no
correction (the verdict p < 0.05 is recorded only as information). Prints one JSON line.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C
import numpy as np
from scipy import stats


def floor_pass(ref, cur) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in C.NUMERIC:
        out[name] = float(stats.ks_2samp(ref[name].to_numpy(), cur[name].to_numpy()).pvalue)
    for name in C.CATEGORICAL:
        r = ref[name].value_counts()
        c = cur[name].value_counts().reindex(r.index.union(cur[name].unique()), fill_value=0)
        r = r.reindex(c.index, fill_value=0)
        table = np.vstack([r.to_numpy(), c.to_numpy()])
        out[name] = float(stats.chi2_contingency(table, correction=False)[1])
    return out


def main() -> None:
    mode = sys.argv[1]
    if mode != "speed":
        raise SystemExit(f"unknown mode {mode!r}")
    ref, cur = C.load(sys.argv[2]), C.load(sys.argv[3])
    loaded = C.rss_mib()
    with C.Phase() as ph:
        pvals = floor_pass(ref, cur)
    C.emit({"mode": mode, "n": len(cur), "rss_after_load_mib": loaded, **ph.result(),
            "drifted_columns_p05": [k for k, v in pvals.items() if v < 0.05]})


if __name__ == "__main__":
    main()
