"""Batch scoring on Spark (local[2], real executors' Python workers): the UDF scores like the
local model, and every worker verifies the bundle before it unpickles it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import modelyard as my
from modelyard.registry._loader import cache_root

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402

# PySpark 4.3 warns that its pandas 3 support is partial; what this module uses works
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


@pytest.fixture
def spark(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers with modelyard installed
    session = (
        SparkSession.builder.master("local[2]")
        .appName("modelyard-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.python.worker.reuse", "false")  # every task loads (and verifies) the model
        .getOrCreate()
    )
    yield session
    session.stop()


def test_the_udf_scores_like_the_local_model_and_workers_verify_the_bundle(
    spark: Any, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression, Ridge

    from modelyard.spark import score_udf

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    target = 2 * frame["a"] - frame["b"] + rng.normal(scale=0.1, size=400)
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    client.register_model("toy", Ridge().fit(frame, target), input_example=frame.head(3))
    client.set_registered_model_alias("toy", "champion", 1)

    predict = score_udf(spark, "models:/toy@champion", tracking_uri=uri)
    assert predict.input_columns == ["a", "b"] and predict.model_uri == "models:/toy/1"
    data = spark.createDataFrame(frame.assign(id=range(len(frame)))).repartition(4)
    rows = (
        data.withColumn("prediction", predict(*predict.input_columns))
        .select("id", "prediction")
        .collect()
    )
    scored = pd.DataFrame([r.asDict() for r in rows]).sort_values("id")
    expected = client.load_model("models:/toy/1").predict(frame)
    np.testing.assert_allclose(scored["prediction"].to_numpy(), np.asarray(expected, dtype=float))

    # a classifier: labels and positive-class scores, as `modelyard score` writes them
    from modelyard.serving._batch import _score_table

    labels = (target > 0).astype(int)
    client.register_model(
        "clf", LogisticRegression().fit(frame, labels), input_example=frame.head(3)
    )
    label_udf = score_udf(spark, "models:/clf/1", tracking_uri=uri)
    score_of = score_udf(spark, "models:/clf/1", tracking_uri=uri, output="score")
    cols = label_udf.input_columns
    rows = data.select("id", label_udf(*cols).alias("label"), score_of(*cols).alias("p")).collect()
    got = pd.DataFrame([r.asDict() for r in rows]).sort_values("id")
    local = _score_table(client.load_model("models:/clf/1"), pa.Table.from_pandas(frame))
    np.testing.assert_array_equal(got["label"].to_numpy(), local["prediction"].astype(float))
    np.testing.assert_allclose(got["p"].to_numpy(), local["score"])

    with pytest.raises(my.ValidationError, match="output must be"):
        score_udf(spark, "models:/clf/1", tracking_uri=uri, output="proba")  # type: ignore[arg-type]
    with pytest.raises(my.ValidationError, match="registered model"):
        score_udf(spark, "runs:/abc/model", tracking_uri=uri)

    # the bundle's bytes change after the UDF was made: the workers refuse to unpickle them
    version = client.get_model_version("toy", 1)
    digest, _ = version.files["model.pkl"]
    evil = b"not the registered model"
    Path(client.blobs.blob_path(digest)).write_bytes(evil)
    for cached in (cache_root() / version.manifest_digest).rglob("model.pkl"):
        cached.write_bytes(evil)
    with pytest.raises(Exception, match="corrupted") as failure:
        data.withColumn("prediction", predict(*predict.input_columns)).collect()
    assert "IntegrityError" in str(failure.value)


def test_score_with_the_spark_engine_writes_what_the_local_engine_writes(
    spark: Any, tmp_path: Path
) -> None:
    import json

    from sklearn.linear_model import LogisticRegression
    from typer.testing import CliRunner

    from modelyard.cli import app

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "id": range(300)})
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    features = frame[["a", "b"]]
    client.register_model(
        "clf",
        LogisticRegression().fit(features, (features["a"] > 0).astype(int)),
        input_example=features.head(3),
    )
    frame.to_parquet(tmp_path / "in.parquet")
    runner = CliRunner()
    outputs = {}
    for engine in ("local", "spark"):
        out = tmp_path / f"{engine}.parquet"
        done = runner.invoke(
            app,
            [
                "score",
                "models:/clf/1",
                str(tmp_path / "in.parquet"),
                "-o",
                str(out),
                "--engine",
                engine,
                "--tracking-uri",
                uri,
                "--json",
            ],
        )
        assert done.exit_code == 0, done.output
        summary = json.loads(done.output)
        assert summary["rows"] == 300 and summary["prediction_log"]
        outputs[engine] = pd.read_parquet(out).sort_values("id", ignore_index=True)
    local, spark_out = outputs["local"], outputs["spark"]
    assert list(spark_out.columns) == list(local.columns)
    np.testing.assert_array_equal(
        spark_out["prediction"].to_numpy(), local["prediction"].to_numpy()
    )
    np.testing.assert_allclose(spark_out["score"].to_numpy(), local["score"].to_numpy())
    refused = runner.invoke(
        app,
        [
            "score",
            str(tmp_path / "bundle"),
            str(tmp_path / "in.parquet"),
            "-o",
            str(tmp_path / "x.parquet"),
            "--engine",
            "spark",
        ],
    )
    assert refused.exit_code != 0 and "registered model" in refused.output
