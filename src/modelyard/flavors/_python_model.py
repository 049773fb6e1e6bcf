"""``modelyard.PythonModel``: a model of your own, with ``load_context`` and ``predict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelContext:
    """Given to ``load_context``: the local paths of the artifacts saved with the model."""

    artifacts: dict[str, str] = field(default_factory=dict)


class PythonModel:
    """Subclass this for a model no flavor covers (or a pre/post-processing wrapper).

    ``predict(model_input)`` gets a DataFrame checked against the signature and may
    return an array, a Series or a DataFrame. Files it needs go in ``artifacts=`` of
    ``save_model``/``log_model`` and come back as local paths in ``load_context``.
    """

    def load_context(self, context: ModelContext) -> None:
        """Called once after loading, before the first ``predict``."""

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement predict(model_input)")
