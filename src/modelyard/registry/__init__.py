"""The model registry: versions, aliases, gates, evaluation and model cards."""

from modelyard.registry._autolog_all import autolog
from modelyard.registry._card import Card, render_card
from modelyard.registry._client import Client
from modelyard.registry._evaluate import EvaluationResult
from modelyard.registry._fluent import (
    evaluate,
    get_client,
    load_model,
    log_model,
    register_model,
    search_model_versions,
    search_registered_models,
)
from modelyard.registry._gate import CheckResult, Gate, parse_gate
from modelyard.registry._loader import fetch_bundle
from modelyard.registry._mlflow_export import export_model
from modelyard.registry._webhooks import RegistryEvents

__all__ = [
    "Card",
    "CheckResult",
    "Client",
    "EvaluationResult",
    "Gate",
    "RegistryEvents",
    "autolog",
    "evaluate",
    "export_model",
    "fetch_bundle",
    "get_client",
    "load_model",
    "log_model",
    "parse_gate",
    "register_model",
    "render_card",
    "search_model_versions",
    "search_registered_models",
]
