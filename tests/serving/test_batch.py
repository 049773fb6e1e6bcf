"""Batch scoring: chunks, worker processes, atomic output, a prediction-log partition, and
the same job on a local Ray cluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.core.errors import SchemaError, ValidationError
from modelyard.serving._batch import score_file

from .conftest import Registered


def _input(registered: Registered, path: Path, copies: int = 20) -> pd.DataFrame:
    frame = pd.concat([registered.X] * copies, ignore_index=True)
    frame.insert(0, "applicant_id", np.arange(len(frame)))
    frame.to_parquet(path, row_group_size=1000)
    return frame


@pytest.mark.parametrize("workers", [1, 2])
def test_scores_in_chunks_into_one_file(registered: Registered, tmp_path: Path, workers: int) -> None:
    frame = _input(registered, tmp_path / "in.parquet")
    result = score_file(
        "models:/cancer@champion", str(tmp_path / "in.parquet"), str(tmp_path / "out" / "scored.parquet"),
        chunk_rows=3000, workers=workers, tracking_uri=registered.uri, log_root=tmp_path / "log", progress=False,
    )
    assert result.rows == len(frame) == 11380
    out = pd.read_parquet(result.output)
    model = registered.client.load_model("models:/cancer/1")
    assert out["applicant_id"].tolist() == frame["applicant_id"].tolist()  # order kept
    assert out["prediction"].tolist() == model.predict(registered.X).tolist() * 20
    assert np.allclose(out["score"], np.tile(model.predict_proba(registered.X)[:, 1], 20))
    assert not [p for p in result.output.parent.iterdir() if p.name.startswith(".")]
    logged = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(logged) == len(frame) and set(logged.endpoint) == {"batch-cancer"} and set(logged.version) == {"1"}
    assert sorted(logged["row"].tolist()) == list(range(len(frame)))
    assert np.allclose(logged.sort_values("row")["input_mean radius"], frame["mean radius"])


def test_bad_inputs_write_nothing(registered: Registered, tmp_path: Path) -> None:
    frame = _input(registered, tmp_path / "in.parquet", copies=1)
    frame.drop(columns=["mean area"]).to_parquet(tmp_path / "partial.parquet")
    with pytest.raises(SchemaError, match="'mean area'"):
        score_file("models:/cancer/1", str(tmp_path / "partial.parquet"), str(tmp_path / "out.parquet"), tracking_uri=registered.uri, progress=False)
    with pytest.raises(ValidationError, match="does not exist"):
        score_file("models:/cancer/1", str(tmp_path / "none.parquet"), str(tmp_path / "out.parquet"), tracking_uri=registered.uri, progress=False)
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(ValidationError, match="not readable as Parquet"):
        score_file("models:/cancer/1", str(tmp_path / "text.parquet"), str(tmp_path / "out.parquet"), tracking_uri=registered.uri, progress=False)
    frame["mean area"] = "big"
    frame.to_parquet(tmp_path / "typed.parquet")
    with pytest.raises(SchemaError, match="'mean area'"):
        score_file("models:/cancer/1", str(tmp_path / "typed.parquet"), str(tmp_path / "out.parquet"), tracking_uri=registered.uri, workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == []


def test_score_command(registered: Registered, tmp_path: Path) -> None:
    _input(registered, tmp_path / "in.parquet", copies=2)
    result = CliRunner().invoke(
        app,
        ["score", "models:/cancer@champion", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.parquet"), "--workers", "1", "--json", "-t", registered.uri],
    )
    assert result.exit_code == 0, result.output
    assert '"rows": 1138' in result.output
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == 1138


def test_ray_engine_gives_the_same_answer(registered: Registered, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from modelyard.serving._ray import score_file_ray

    frame = _input(registered, tmp_path / "in.parquet", copies=4)
    result = score_file_ray(
        "models:/cancer@champion", str(tmp_path / "in.parquet"), str(tmp_path / "ray.parquet"),
        chunk_rows=500, workers=2, tracking_uri=registered.uri, log_root=tmp_path / "log",
    )
    out = pd.read_parquet(result.output).sort_values("applicant_id")
    model = registered.client.load_model("models:/cancer/1")
    assert result.rows == len(frame)
    assert out["prediction"].tolist() == model.predict(registered.X).tolist() * 4
    assert np.allclose(out["score"], np.tile(model.predict_proba(registered.X)[:, 1], 4))
    assert result.log_file is not None and pq.read_metadata(result.log_file).num_rows == len(frame)
