"""``mlflow.client`` under modelyard: ``MlflowClient`` is ``modelyard.Client``.

The explicit client: experiments, runs and artifacts by id, and the model registry in
``MlflowClient``'s method names. Stages are gone from MLflow and from modelyard: aliases
replace them, and ``get_latest_versions``/``transition_model_version_stage`` map stages
onto aliases with a deprecation warning.
"""

from __future__ import annotations

from modelyard.registry import Client

MlflowClient = Client

__all__ = ["Client", "MlflowClient"]
