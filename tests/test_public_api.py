"""The public API: light to import, complete, and in MLflow's names."""

from __future__ import annotations

import subprocess
import sys

import modelyard


def test_import_is_light() -> None:
    code = (
        "import sys, modelyard; heavy = [m for m in ('sqlalchemy', 'pandas', 'pyarrow', 'sklearn', 'fsspec', 'alembic', 'duckdb', 'starlette', 'onnxruntime', 'shap') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_every_public_name_resolves() -> None:
    for name in modelyard.__all__:
        assert getattr(modelyard, name) is not None, name


def test_mlflow_names_are_there() -> None:
    fluent = [
        "set_experiment",
        "start_run",
        "end_run",
        "active_run",
        "log_param",
        "log_params",
        "log_metric",
        "log_metrics",
        "log_artifact",
        "log_artifacts",
        "set_tag",
        "set_tags",
        "log_input",
        "search_runs",
        "get_run",
        "set_tracking_uri",
        "log_table",
        "log_image",
        "get_parent_run",
        "set_experiment_tags",
        "search_registered_models",
        "search_model_versions",
        "set_registry_uri",
        "get_registry_uri",
        "evaluate",
        "autolog",
    ]
    client = [
        "create_experiment",
        "get_experiment_by_name",
        "create_run",
        "get_run",
        "log_metric",
        "log_batch",
        "log_param",
        "set_tag",
        "set_terminated",
        "get_metric_history",
        "search_runs",
        "list_artifacts",
        "download_artifacts",
        "log_input",
        "get_latest_versions",
        "transition_model_version_stage",
        "set_registered_model_alias",
        "get_model_version_by_alias",
    ]
    assert all(callable(getattr(modelyard, n)) for n in fluent)
    assert all(callable(getattr(modelyard.Client, n)) for n in client)


def test_errors_share_one_root_and_subclass_builtins() -> None:
    assert issubclass(modelyard.ValidationError, ValueError)
    assert issubclass(modelyard.NotFoundError, LookupError)
    assert issubclass(modelyard.StoreError, OSError)
    for name in modelyard.__all__:
        obj = getattr(modelyard, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, modelyard.ModelyardWarning), name
        elif isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, modelyard.ModelyardError), name


def test_unknown_attribute() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        modelyard.nope  # noqa: B018
