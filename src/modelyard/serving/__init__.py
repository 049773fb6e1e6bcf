"""Serving: the scoring server (native JSON, Open Inference Protocol v2, MLflow scoring),
deployments with A/B, shadow and sticky routes, hot swaps, the prediction log, and batch
scoring."""

from modelyard.http import hash_token, new_token
from modelyard.serving._app import ScoringServer, create_app
from modelyard.serving._config import DeploymentConfig, load_deployment, parse_deployment

__all__ = [
    "DeploymentConfig",
    "ScoringServer",
    "create_app",
    "hash_token",
    "load_deployment",
    "new_token",
    "parse_deployment",
]
