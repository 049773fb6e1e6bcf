"""What the bundle trust boundary costs: loads from the local disk cache, and writing a blob
that is already stored.

    .venv/bin/python benchmarks/registry/trust_overhead.py [--repeats 5] [--mib 50]

* cache_hit_load - a PythonModel holding an N MiB float64 array is registered and loaded
  once (that fills <home>/cache/models); then each repeat is a fresh interpreter that loads
  models:/big/1 again. Nothing is in memory, so the load reads the cached bundle: the
  manifest is hashed against the registered digest, every file is hashed, then unpickled.
* put_existing - ``ContentAddressedStore.put_file`` of an N MiB file whose blob is already
  stored (intact): the stored blob's size is checked, then its sha256, and nothing is
  written. Timed in this process, after one untimed first write.
* read_hash_reference - reading and sha256-hashing the same N MiB file: the floor for both.

Prints the median and every repeat, in milliseconds. Figures are measurements of this
machine, not thresholds. The script uses only APIs that existed before the trust-boundary
change, so the same file measures the code before and after it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import modelyard
from modelyard.artifacts import ContentAddressedStore


class BigModel(modelyard.PythonModel):
    def __init__(self, weights: Any) -> None:
        self.weights = weights

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return np.full(len(model_input), float(self.weights[0]))


LOADER = """
import sys, time
t = time.perf_counter()
import modelyard
client = modelyard.Client(sys.argv[1], artifact_uri=sys.argv[2])
t0 = time.perf_counter()
client.load_model("models:/big/1")
print((time.perf_counter() - t0) * 1000)
"""


def _read_hash(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mib", type=int, default=50)
    args = parser.parse_args()
    floats = args.mib * (1 << 20) // 8
    with tempfile.TemporaryDirectory(prefix="modelyard-trust-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "MODELYARD_HOME": str(root / "home")}
        os.environ["MODELYARD_HOME"] = env["MODELYARD_HOME"]
        store, artifacts = f"sqlite:///{root / 'm.db'}", str(root / "artifacts")
        client = modelyard.Client(store, artifact_uri=artifacts)
        weights = np.random.default_rng(0).random(floats)
        client.register_model("big", BigModel(weights), input_example={"x": [1.0]})
        client.load_model("models:/big/1")  # fills the disk cache

        cache_hit = []
        for _ in range(args.repeats):
            out = subprocess.run(
                [sys.executable, "-c", LOADER, store, artifacts],
                env=env, check=True, capture_output=True, text=True,
            )
            cache_hit.append(float(out.stdout.strip().splitlines()[-1]))

        source = root / "blob.bin"
        source.write_bytes(weights.tobytes())
        cas = ContentAddressedStore(str(root / "cas"))
        cas.put_file(source)
        put_existing, reference = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            cas.put_file(source)
            put_existing.append((time.perf_counter() - started) * 1000)
            reference.append(_read_hash(source))

    result = {
        "mib": args.mib,
        "cache_hit_load_ms": cache_hit,
        "put_existing_ms": put_existing,
        "read_hash_reference_ms": reference,
    }
    for key in ("cache_hit_load_ms", "put_existing_ms", "read_hash_reference_ms"):
        values = result[key]
        assert isinstance(values, list)
        print(f"{key:>24}: median {statistics.median(values):8.1f}   runs {[round(v, 1) for v in values]}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
