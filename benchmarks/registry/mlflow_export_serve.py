"""Check by hand that exported models are served by the full MLflow: `modelyard models export
--format mlflow`, then `mlflow models serve` on each folder, one POST /invocations, and the
answers compared with modelyard's own predictions.

The test suite loads exports with `mlflow.pyfunc.load_model` (mlflow-skinny, in the dev extra);
`mlflow models serve` needs the full `mlflow` package (Flask, uvicorn ...), so it runs here,
against a virtualenv that has it:

    python3 -m venv /tmp/mlflow-venv
    /tmp/mlflow-venv/bin/pip install mlflow==3.17.2 scikit-learn==<as .venv> lightgbm xgboost
    .venv/bin/python benchmarks/registry/mlflow_export_serve.py --mlflow-python /tmp/mlflow-venv/bin/python

Servers bind to a free loopback port and are stopped when their answer is in.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import lightgbm
import xgboost
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_and_ask(mlflow_bin: Path, folder: Path, payload: dict[str, Any]) -> Any:
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{mlflow_bin}:{os.environ.get('PATH', '')}",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    }
    server = subprocess.Popen(
        [str(mlflow_bin / "mlflow"), "models", "serve", "-m", str(folder), "--env-manager",
         "local", "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"mlflow models serve did not come up for {folder}") from None
                time.sleep(0.5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["predictions"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow-python", required=True, help="python of a venv with mlflow")
    args = parser.parse_args()
    mlflow_bin = Path(args.mlflow_python).parent
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    models = {
        "sklearn": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "lightgbm-booster": lightgbm.train(
            {"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), 20
        ),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y),
        "xgboost": xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y),
    }
    rows = X.head(20)
    payload = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    with tempfile.TemporaryDirectory() as tmp:
        client = my.Client(str(Path(tmp) / "store"))
        print(f"{'model':18} {'rows':>4}  answer")
        for name, model in models.items():
            version = client.register_model(name, model, input_example=X.head(3))
            folder = my.registry.export_model(client, version.uri, Path(tmp) / name)
            expected = client.load_model(version.uri).predict(rows).tolist()
            served = serve_and_ask(mlflow_bin, folder, payload)
            verdict = "identical" if served == expected else f"DIFFERENT: {served[:3]} vs {expected[:3]}"
            print(f"{name:18} {len(rows):>4}  {verdict}")


if __name__ == "__main__":
    main()
