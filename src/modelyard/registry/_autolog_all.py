"""``modelyard.autolog()``: autologging for every installed framework at once, as
``mlflow.autolog()`` does (scikit-learn, LightGBM and XGBoost; a framework that is not
installed is skipped)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from modelyard.core.errors import MissingDependencyError
from modelyard.registry import _autolog, _autolog_lightgbm, _autolog_xgboost

FRAMEWORKS: dict[str, Callable[..., None]] = {
    "sklearn": _autolog.autolog,
    "lightgbm": _autolog_lightgbm.autolog,
    "xgboost": _autolog_xgboost.autolog,
}


def installed_frameworks() -> list[str]:
    return [name for name in FRAMEWORKS if importlib.util.find_spec(name) is not None]


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Turn on autologging for scikit-learn, LightGBM and XGBoost, whichever are installed
    (``installed_frameworks()``). ``disable=True`` turns all of them off."""
    found = installed_frameworks()
    if not found and not disable:
        raise MissingDependencyError(
            "scikit-learn", "sklearn", "autolog() (for scikit-learn, LightGBM or XGBoost)"
        )
    for name in found:
        FRAMEWORKS[name](
            log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures,
            log_models=log_models,
            log_datasets=log_datasets,
            disable=disable,
            exclusive=exclusive,
            disable_for_unsupported_versions=disable_for_unsupported_versions,
            silent=silent,
            extra_tags=extra_tags,
        )
