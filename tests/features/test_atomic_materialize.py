"""Materialization is atomic for readers: a `modelyard features materialize` killed with SIGKILL
in the middle of writing leaves every reader on the old values, and readers during a run see
the old values or the new ones, never a mix."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.features import FeatureStore
from modelyard.features._materialize import BATCH
from modelyard.features._online_redis import LOADING_TTL

from .conftest import T0

N = 3 * BATCH  # entities: the kill lands after the first batch, with two still to write
SAMPLE = 2_000
ATTEMPTS = 3  # runs that finish before the kill are valid too, but test no kill: run again

DEFINITIONS = textwrap.dedent(
    """
    from modelyard.features import Entity, FeatureView, Field, FileSource, Int64

    thing = Entity(name="thing", join_keys=["thing_id"])
    counts = FeatureView(
        name="counts",
        entities=[thing],
        schema=[Field(name="n", dtype=Int64)],
        source=FileSource(path="data/counts.parquet", timestamp_field="event_time"),
    )
    """
)


def _write(repo: Path, value: int) -> None:
    pd.DataFrame(
        {
            "thing_id": np.arange(N, dtype="int64"),
            "event_time": [T0 + timedelta(hours=value)] * N,
            "n": np.full(N, value, dtype="int64"),
        }
    ).to_parquet(repo / "data" / "counts.parquet")


def _new_generations(online: str, project: str, seen: set[str]) -> dict[str, int]:
    """Generations of the view being written (not serving, not seen before), by rows written:
    SQLite tables listed in ``online_tables``, Redis hashes ``my2:{<len>:<project>:<view>}:g:*``."""
    if online.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(online)
        base = f"my2:{{{len(project)}:{project}:counts}}"
        current = client.get(f"{base}:current")
        found = {}
        for key in client.scan_iter(match=f"{base}:g:*", count=1000):
            name = key.decode()
            if name not in seen and (current is None or not name.endswith(current.decode())):
                found[name] = int(client.hlen(key))
        client.close()
        return found
    conn = sqlite3.connect(online)
    found = {}
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'online_tables'").fetchone():
        for (table,) in conn.execute(
            "SELECT tbl FROM online_tables WHERE tbl NOT IN (SELECT tbl FROM online_views)"
        ).fetchall():
            if table not in seen:
                found[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    conn.close()
    return found


def _values(fs: FeatureStore, ids: list[int]) -> set[object]:
    """One read of the sample (one statement, or one script): the distinct values it saw."""
    rows = [{"thing_id": i} for i in ids]
    return set(fs.get_online_features(["counts:n"], rows).to_dict()["n"])


def test_a_killed_materialization_leaves_readers_on_one_snapshot(
    online_url: str, tmp_path: Path, forget: list[tuple[str, str]]
) -> None:
    repo = tmp_path / f"repo_{uuid.uuid4().hex[:10]}"
    forget.append((online_url, repo.name))
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(DEFINITIONS)
    meta = str(tmp_path / "meta")
    fs = FeatureStore(repo_path=repo, tracking_uri=meta, online_store=online_url)
    _write(repo, 1)
    fs.apply()
    fs.materialize(T0, T0 + timedelta(days=30), progress=False)
    ids = [int(i) for i in np.random.default_rng(3).choice(N, SAMPLE, replace=False)]
    assert _values(fs, ids) == {1}
    seen: set[str] = set()
    killed_mid_write = False
    for value in range(2, 2 + ATTEMPTS):
        _write(repo, value)
        command = [
            sys.executable, "-m", "modelyard", "features", "materialize",
            T0.isoformat(), (T0 + timedelta(days=30)).isoformat(),
            "--repo", str(repo), "--online-store", online_url, "--tracking-uri", meta, "--json",
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        before = value - 1
        try:
            while proc.poll() is None:
                observed = _values(fs, ids)
                assert observed in ({before}, {value}), f"a reader saw a mix: {observed}"
                loading = _new_generations(online_url, fs.project, seen)
                if any(size >= BATCH for size in loading.values()):  # one batch written, two to go
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    seen |= set(loading)
                    break
                time.sleep(0.01)  # polling: leave the CPU to the writer between looks
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            assert proc.stderr is not None
            errors = proc.stderr.read().decode()
            proc.stderr.close()
        assert proc.returncode in (0, -signal.SIGKILL), errors
        after = _values(fs, ids)
        assert after in ({before}, {value}), f"after the run, a reader saw a mix: {after}"
        if proc.returncode == -signal.SIGKILL and after == {before}:
            killed_mid_write = True
            break
    assert killed_mid_write, f"no run of {ATTEMPTS} was still writing when it was killed"
    # the dead run's generation is never read; a new run serves all-new values
    final = value + 1
    _write(repo, final)
    fs.materialize(T0, T0 + timedelta(days=30), progress=False)
    assert _values(fs, ids) == {final}
    if online_url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(online_url)
        ttls = [client.ttl(name) for name in seen if client.exists(name)]
        assert all(0 < t <= LOADING_TTL for t in ttls)  # the safety net
        client.close()
