"""The keywords of ``log_model`` and ``register_model``, declared once.

``Client.log_model``/``Client.register_model`` and the fluent ``modelyard.log_model``/
``modelyard.register_model`` take them as ``**options`` typed by these TypedDicts (so type
checkers and editors know them), and check them at run time too: a misspelt keyword is a
TypeError naming it, never dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from modelyard.core.models import RiskCategory


class VersionOptions(TypedDict, total=False):
    """What a new version records beside its bundle."""

    description: str
    tags: dict[str, str] | None
    metrics: dict[str, float] | None
    params: dict[str, str] | None
    risk_category: RiskCategory | str | None
    card: dict[str, str] | None
    owner: str | None
    lineage: dict[str, Any] | None


class SaveOptions(TypedDict, total=False):
    """How a live model is saved: its signature comes from ``signature``, else from
    ``input_example`` (and the model's output on it), else from the fitted model itself."""

    input_example: Any
    signature: Any
    onnx: bool


class RegisterOptions(SaveOptions, VersionOptions, total=False):
    """``register_model``'s keywords; ``trusted`` lets an MLflow folder holding a pickle be
    converted (converting unpickles it)."""

    run_id: str | None
    trusted: bool


class LogModelOptions(SaveOptions, VersionOptions, total=False):
    """``log_model``'s keywords; ``name`` is MLflow 3's spelling of ``artifact_path``."""

    name: str | None
    registered_model_name: str | None
    artifacts: Mapping[str, Any] | None


VERSION_OPTIONS = frozenset(VersionOptions.__annotations__)


def check_options(function: str, options: Mapping[str, Any], accepted: type) -> None:
    """Refuse keywords that the TypedDict ``accepted`` does not declare, the way Python
    refuses unknown keywords (TypeError), naming each, with the closest accepted one."""
    known = list(accepted.__annotations__)
    unknown = [key for key in options if key not in known]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        hints.append(f"{key[:60]!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    plural = "s" if len(unknown) > 1 else ""
    raise TypeError(
        f"{function}() got unexpected keyword argument{plural} {', '.join(hints)}; "
        f"its keywords are {', '.join(sorted(known))}"
    )


def artifact_path_of(artifact_path: str | None, name: str | None) -> str:
    """``name=`` is MLflow 3's spelling of ``artifact_path``; either (or neither) may be given."""
    if artifact_path is not None and name is not None and artifact_path != name:
        raise TypeError(
            "log_model() got both artifact_path= and name=, which differ; they are the same "
            "thing (name= is MLflow 3's spelling): give one"
        )
    return artifact_path or name or "model"


def for_the_version(options: LogModelOptions, registered_model_name: str | None) -> VersionOptions:
    """The keywords of ``log_model`` that describe the registered version; refused (never
    dropped) when nothing is registered."""
    chosen = cast(VersionOptions, {k: v for k, v in options.items() if k in VERSION_OPTIONS})
    if chosen and registered_model_name is None:
        raise TypeError(
            f"log_model() got {', '.join(sorted(chosen))} without registered_model_name=; "
            "they describe a registered version: name the model, or drop them"
        )
    return chosen
