"""Every optional package, hidden, makes the backend that needs it raise a
MissingDependencyError naming the extra that installs it; the table behind those messages
agrees with pyproject.toml."""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fsspec.registry import _registry as fsspec_registry
from typer.testing import CliRunner

import modelyard as my

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    names = {
        extra: [re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower() for req in reqs]
        for extra, reqs in project["optional-dependencies"].items()
    }
    return names


def test_the_table_names_extras_that_exist_and_install_the_package() -> None:
    from modelyard.core.extras import EXTRAS

    extras = _extras()
    for module, (package, extra) in EXTRAS.items():
        assert extra in extras, f"{module}: pyproject.toml has no extra {extra!r}"
        members = set(extras[extra])
        for nested in re.findall(r"modelyard\[([^\]]+)\]", " ".join(extras[extra])):
            members |= {p for e in nested.split(",") for p in extras[e.strip()]}
        assert package.lower() in members, f"extra {extra!r} does not install {package!r}"


def test_artifact_stores_have_their_extras() -> None:
    assert {"s3", "gcs", "azure"} <= set(_extras())


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """hide("lightgbm", reimport=["modelyard.flavors._lightgbm"]): make a package unimportable,
    and forget the modules of ours that imported it at their top, so they import again."""
    before = set(sys.modules)

    def _hide(*packages: str, reimport: tuple[str, ...] = ()) -> None:
        for prefix in (*packages, *reimport):
            for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
                monkeypatch.delitem(sys.modules, key)
                parent, _, child = key.rpartition(".")
                if parent in sys.modules:  # or `from parent import child` finds the old one
                    monkeypatch.delattr(sys.modules[parent], child, raising=False)
        for package in packages:
            monkeypatch.setitem(sys.modules, package, None)
        for protocol, implementation in list(fsspec_registry.items()):
            if implementation.__module__.partition(".")[0] in packages:  # imported before
                monkeypatch.delitem(fsspec_registry, protocol)

    yield _hide
    for key in set(sys.modules) - before:  # modules of ours first imported here: forget them
        if key.startswith("modelyard"):
            module = sys.modules.pop(key)
            parent, _, child = key.rpartition(".")
            if getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)


def _flavor(name: str) -> Callable[[Path], Any]:
    from modelyard.flavors import get_flavor

    return lambda _: get_flavor(name)


def _evaluate(_: Path) -> Any:
    from modelyard.registry._evaluate import evaluate

    return evaluate(None, pd.DataFrame({"y": [0, 1]}), "y")  # type: ignore[arg-type]


def _onnx_conversion(_: Path) -> Any:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    from modelyard.flavors import get_flavor
    from modelyard.flavors._onnx_convert import convert_checked

    x = np.arange(6, dtype=float).reshape(3, 2)
    return convert_checked(LinearRegression().fit(x, [0, 1, 2]), get_flavor("sklearn"), x)


def _explain(_: Path) -> Any:
    from modelyard.flavors._explain import _shap

    return _shap()


def _mlflow_skops(tmp_path: Path) -> Any:
    from modelyard.registry._mlflow_import import load_mlflow_model

    mlmodel = {"flavors": {"sklearn": {"serialization_format": "skops"}}}
    return load_mlflow_model(tmp_path, mlmodel)


def _plot(tmp_path: Path) -> Any:
    client = my.Client(str(tmp_path / "store"))
    run = client.create_run(client.create_experiment("e"))
    client.log_metric(run.info.run_id, "loss", 0.5)
    return client.plot_metric_history([run.info.run_id], tmp_path / "loss.png")


def _ray_pipeline(_: Path) -> Any:
    from modelyard.pipelines._ray import RayRunner

    return RayRunner(address=None, env={}, fns=[]).connect()


def _ray_batch(tmp_path: Path) -> Any:
    from modelyard.serving._ray import score_file_ray

    return score_file_ray("models:/m/1", tmp_path / "in.parquet", tmp_path / "out")


def _cron(_: Path) -> Any:
    from modelyard.pipelines._scheduler import check_cron

    return check_cron("* * * * *")


def _redis(tmp_path: Path) -> Any:
    from modelyard.features._online import open_online_store

    return open_online_store("redis://127.0.0.1:1/0", tmp_path)


def _postgres(_: Path) -> Any:
    return my.Client("postgresql://nobody@127.0.0.1:1/none")


def _spark_training_set(_: Path) -> Any:
    from modelyard.features._offline_spark import spark_session
    from modelyard.features._settings import SparkSettings

    return spark_session(SparkSettings(master="local[1]"))


def _artifacts(uri: str) -> Callable[[Path], Any]:
    from modelyard.artifacts import ContentAddressedStore

    return lambda _: ContentAddressedStore(uri)


def _import(module: str) -> Callable[[Path], Any]:
    import importlib

    return lambda _: importlib.import_module(module)


CASES: list[tuple[str, tuple[str, ...], Callable[[Path], Any], str]] = [
    # (case, packages hidden, modules of ours re-imported), what runs, the extra named
    ("lightgbm flavor", ("lightgbm",), _flavor("lightgbm"), "lightgbm"),
    ("xgboost flavor", ("xgboost",), _flavor("xgboost"), "xgboost"),
    ("sklearn flavor", ("sklearn",), _flavor("sklearn"), "sklearn"),
    ("onnx flavor", ("onnxruntime",), _flavor("onnx"), "onnx"),
    ("onnx conversion", ("skl2onnx",), _onnx_conversion, "onnx"),
    ("autolog", ("sklearn",), lambda _: __import__("modelyard.sklearn").sklearn.autolog(), "sklearn"),
    ("evaluation", ("sklearn",), _evaluate, "sklearn"),
    ("explanations", ("shap",), _explain, "explain"),
    ("mlflow import", ("skops",), _mlflow_skops, "mlflow"),
    ("metric plots", ("matplotlib",), _plot, "plots"),
    ("ray pipelines", ("ray",), _ray_pipeline, "ray"),
    ("ray batch scoring", ("ray",), _ray_batch, "ray"),
    ("cron schedules", ("croniter",), _cron, "schedule"),
    ("redis online store", ("redis",), _redis, "redis"),
    ("spark offline engine", ("pyspark",), _spark_training_set, "spark"),
    ("postgresql store", ("psycopg",), _postgres, "postgres"),
    ("s3 artifacts", ("s3fs",), _artifacts("s3://bucket/prefix"), "s3"),
    ("gcs artifacts", ("gcsfs",), _artifacts("gs://bucket/prefix"), "gcs"),
    ("azure artifacts", ("adlfs",), _artifacts("az://container/prefix"), "azure"),
    ("scoring server", ("starlette",), _import("modelyard.serving"), "serve"),
    ("scoring metrics", ("prometheus_client",), _import("modelyard.serving"), "serve"),
    ("feature server", ("starlette",), _import("modelyard.server"), "serve"),
]
REIMPORT = {
    "lightgbm flavor": ("modelyard.flavors._lightgbm",),
    "xgboost flavor": ("modelyard.flavors._xgboost",),
    "sklearn flavor": ("modelyard.flavors._sklearn",),
    "onnx flavor": ("modelyard.flavors._onnx",),
    "scoring server": ("modelyard.http", "modelyard.serving"),
    "scoring metrics": ("modelyard.serving",),
    "feature server": ("modelyard.http", "modelyard.server"),
}


@pytest.mark.parametrize(("case", "packages", "action", "extra"), CASES, ids=[c[0] for c in CASES])
def test_a_hidden_package_names_its_extra(
    case: str,
    packages: tuple[str, ...],
    action: Callable[[Path], Any],
    extra: str,
    hide: Callable[..., None],
    tmp_path: Path,
) -> None:
    hide(*packages, reimport=REIMPORT.get(case, ()))
    with pytest.raises(my.MissingDependencyError, match=re.escape(f"pip install 'modelyard[{extra}]'")) as raised:
        action(tmp_path)
    assert isinstance(raised.value, ImportError) and raised.value.extra == extra


@pytest.mark.parametrize(
    ("command", "package", "extra"),
    [
        (["serve", "models:/m@champion"], "uvicorn", "serve"),
        (["features", "serve", "--repo", "."], "uvicorn", "serve"),
        (["demo"], "httpx", "demo"),
    ],
)
def test_the_cli_names_the_extra_too(
    command: list[str], package: str, extra: str, hide: Callable[..., None]
) -> None:
    from modelyard.cli import app

    hide(package)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert f"pip install 'modelyard[{extra}]'" in result.output
    assert "Traceback" not in result.output
