"""The scikit-learn flavor: estimators and Pipelines, pickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator, is_classifier, is_regressor

from modelyard.core.signature import Signature
from modelyard.flavors import _pickled
from modelyard.flavors._base import Saved, requirement, version_of
from modelyard.flavors._fitted import sklearn_signature
from modelyard.flavors._manifest import BundleFolder


class SklearnFlavor:
    name = "sklearn"

    def handles(self, model: Any) -> bool:
        return isinstance(model, BaseEstimator) and hasattr(model, "predict")

    def save(self, model: Any, folder: Path) -> Saved:
        _pickled.dump(model, folder)
        return Saved(
            framework="scikit-learn",
            framework_version=version_of("scikit-learn"),
            requirements=[requirement("scikit-learn"), requirement("numpy"), requirement("pandas")],
            config={
                "model_file": _pickled.MODEL_FILE,
                "estimator": f"{type(model).__module__}.{type(model).__name__}",
            },
        )

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        return _pickled.load(bundle, config)

    def predict(self, raw: Any, frame: Any) -> Any:
        return raw.predict(frame)

    def predict_proba(self, raw: Any, frame: Any) -> Any | None:
        return raw.predict_proba(frame) if hasattr(raw, "predict_proba") else None

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        return _pickled.importance_from(raw, names)

    def signature_of(self, raw: Any) -> Signature | None:
        kind = "classifier" if is_classifier(raw) else "regressor" if is_regressor(raw) else None
        return sklearn_signature(raw, kind)


FLAVOR = SklearnFlavor()
