"""Shared by every side of the feature-store benchmark: sizes, data generation, names.

Imports only numpy / pandas / pyarrow (and the standard library), so it works in the
modelyard venv and in the Feast venv alike.

    python _common.py generate DATA_DIR --rows N --entities M --anchor ISO   (run.py does this)

Data (one directory per size):
* features.parquet: driver_id int64, event_timestamp (UTC), created (UTC), f0..f9 float64.
  Event times are uniform over SPAN_DAYS before the anchor, second resolution, unique per
  driver; ~1% of rows are re-written at the same event_timestamp with a later `created`
  and different values (the later one is correct). Rows are shuffled.
* entities.parquet: driver_id int64, event_timestamp (UTC), unique (driver_id, event_timestamp).
  ~3% of driver ids have no feature rows at all; timestamps start TTL_DAYS/2 before the
  first feature row (so some rows have nothing yet); ~2% copy the exact (driver, time) of a
  re-written row (tie-break at equality); the rest are uniform. Many rows have no feature
  row within the TTL (drivers have ~1 row per SPAN_DAYS/10 days) and must come back null.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(10)]
VIEW = "driver_stats"
ENTITY = "driver"
JOIN_KEY = "driver_id"
TS = "event_timestamp"
CREATED = "created"
TTL_DAYS = 7
SPAN_DAYS = 60
FIRST_DRIVER = 1001
ROWS_PER_DRIVER = 10
SEED = 20261129

SIZES = {
    # name: (feature rows, entity rows)
    "1m": (1_000_000, 100_000),
    "10m": (10_000_000, 1_000_000),
}

FEATURE_REFS = [f"{VIEW}:{f}" for f in FEATURES]


def anchor_today() -> datetime:
    """Data end: today's midnight UTC (online TTL checks compare with the wall clock)."""
    now = datetime.now(tz=UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def materialize_window(anchor: datetime) -> tuple[datetime, datetime]:
    return anchor - timedelta(days=SPAN_DAYS + 1), anchor + timedelta(hours=1)


def data_paths(data_dir: str) -> dict[str, str]:
    return {
        "features": os.path.join(data_dir, "features.parquet"),
        "entities": os.path.join(data_dir, "entities.parquet"),
        "meta": os.path.join(data_dir, "meta.json"),
        "reference": os.path.join(data_dir, "reference.parquet"),
        "online_expect": os.path.join(data_dir, "online_expect.json"),
    }


def read_meta(data_dir: str) -> dict:
    with open(data_paths(data_dir)["meta"]) as f:
        return json.load(f)


def load_entities(data_dir: str) -> pd.DataFrame:
    """The entity frame: driver_id int64, event_timestamp datetime64[ns, UTC]."""
    df = pq.read_table(data_paths(data_dir)["entities"]).to_pandas()
    df[TS] = df[TS].astype("datetime64[ns, UTC]")
    return df


def generate(data_dir: str, n_rows: int, n_entities: int, anchor: datetime) -> dict:
    rng = np.random.default_rng(SEED + n_rows)
    os.makedirs(data_dir, exist_ok=True)
    span_s = SPAN_DAYS * 86400
    n_drivers = max(1, n_rows // ROWS_PER_DRIVER)
    anchor_s = int(anchor.timestamp())
    start_s = anchor_s - span_s

    # base rows, unique (driver, second)
    n_base_target = round(n_rows / 1.01)
    drivers = rng.integers(0, n_drivers, size=int(n_base_target * 1.02), dtype=np.int64)
    secs = rng.integers(0, span_s, size=drivers.size, dtype=np.int64)
    combo = np.unique(drivers * span_s + secs)
    combo = rng.permutation(combo)[:n_base_target]
    drivers = combo // span_s
    secs = combo % span_s
    n_base = drivers.size
    created = secs + rng.integers(0, 600, size=n_base, dtype=np.int64)
    values = rng.standard_normal((n_base, len(FEATURES)))

    # ~1% re-writes: same driver and event time, later created, different values
    n_dup = n_rows - n_base
    dup_idx = rng.choice(n_base, size=n_dup, replace=False)
    d_drivers = drivers[dup_idx]
    d_secs = secs[dup_idx]
    d_created = created[dup_idx] + rng.integers(1, 3600, size=n_dup, dtype=np.int64)
    d_values = rng.standard_normal((n_dup, len(FEATURES)))

    all_drivers = np.concatenate([drivers, d_drivers]) + FIRST_DRIVER
    all_secs = np.concatenate([secs, d_secs]) + start_s
    all_created = np.concatenate([created, d_created]) + start_s
    all_values = np.concatenate([values, d_values])
    order = rng.permutation(all_drivers.size)

    def ts(seconds: np.ndarray) -> pa.Array:
        return pa.array(seconds.astype("datetime64[s]").astype("datetime64[us]"),
                        type=pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))

    table = pa.table({
        JOIN_KEY: pa.array(all_drivers[order], type=pa.int64()),
        TS: ts(all_secs[order]),
        CREATED: ts(all_created[order]),
        **{f: pa.array(all_values[order, i]) for i, f in enumerate(FEATURES)},
    })
    paths = data_paths(data_dir)
    pq.write_table(table, paths["features"] + ".tmp", row_group_size=1_000_000)
    os.replace(paths["features"] + ".tmp", paths["features"])

    # entity rows
    n_tie = int(n_entities * 0.02)
    n_unknown = int(n_entities * 0.03)
    pick = rng.choice(n_dup, size=min(n_tie, n_dup), replace=False)
    e_tie_d = d_drivers[pick] + FIRST_DRIVER
    e_tie_s = d_secs[pick] + start_s
    n_rest = int((n_entities - e_tie_d.size) * 1.05)
    lo = start_s - TTL_DAYS * 86400 // 2
    e_d = rng.integers(0, n_drivers, size=n_rest, dtype=np.int64) + FIRST_DRIVER
    unknown = rng.choice(n_rest, size=n_unknown, replace=False)
    e_d[unknown] = FIRST_DRIVER + n_drivers + rng.integers(0, n_drivers, size=n_unknown)
    e_s = rng.integers(lo, anchor_s, size=n_rest, dtype=np.int64)
    ent = pd.DataFrame({JOIN_KEY: np.concatenate([e_tie_d, e_d]),
                        "s": np.concatenate([e_tie_s, e_s])})
    ent = ent.drop_duplicates().iloc[:n_entities]
    ent = ent.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    etable = pa.table({JOIN_KEY: pa.array(ent[JOIN_KEY].to_numpy(), type=pa.int64()),
                       TS: ts(ent["s"].to_numpy())})
    pq.write_table(etable, paths["entities"])

    meta = {
        "rows": int(table.num_rows),
        "rewritten_rows": int(n_dup),
        "drivers": int(n_drivers),
        "entity_rows": int(etable.num_rows),
        "entity_rows_unknown_driver_approx": int(n_unknown),
        "entity_rows_tie_at_rewrite": int(e_tie_d.size),
        "anchor": anchor.isoformat(),
        "span_days": SPAN_DAYS,
        "ttl_days": TTL_DAYS,
        "seed": SEED,
        "features_bytes": os.path.getsize(paths["features"]),
    }
    with open(paths["meta"], "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# ------------------------------------------------------------------ measurement helpers


def peak_rss_mib() -> float:
    """Peak RSS of this process: VmHWM of its own address space. (ru_maxrss is not used: on
    Linux it carries over the pre-exec high-water mark of the forked parent, so a child of a
    big orchestrator would report the parent's peak.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def normalize_result(df: pd.DataFrame) -> pd.DataFrame:
    """driver_id, event_timestamp (UTC, ns), f0..f9 — for comparison with the reference."""
    out = pd.DataFrame({JOIN_KEY: df[JOIN_KEY].astype("int64")})
    t = pd.to_datetime(df[TS], utc=True)
    out[TS] = t.astype("datetime64[ns, UTC]")
    for f in FEATURES:
        out[f] = pd.to_numeric(df[f], errors="coerce").astype("float64")
    return out


def write_result(df: pd.DataFrame, path: str) -> None:
    normalize_result(df).to_parquet(path, index=False)


def lookup_ids(n: int, seed: int, expect: dict) -> list[int]:
    """Random driver ids for online lookups, drawn from the materialized drivers."""
    rng = np.random.default_rng(seed)
    return [int(x) for x in rng.integers(FIRST_DRIVER, FIRST_DRIVER + expect["drivers"], size=n)]


def emit(result: dict) -> None:
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["generate"])
    ap.add_argument("data_dir")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--entities", type=int, required=True)
    ap.add_argument("--anchor", required=True)
    a = ap.parse_args()
    m = generate(a.data_dir, a.rows, a.entities, datetime.fromisoformat(a.anchor))
    print(json.dumps(m))
