"""The LightGBM flavor: the scikit-learn API models (pickled) and Boosters (native text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm

from modelyard.core.signature import DType, Signature
from modelyard.flavors import _pickled
from modelyard.flavors._base import Saved, requirement, version_of
from modelyard.flavors._fitted import dtype_of_values, prediction_output, signature_from
from modelyard.flavors._manifest import BundleFolder

BOOSTER_FILE = "model.txt"


class LightGBMFlavor:
    name = "lightgbm"

    def handles(self, model: Any) -> bool:
        return isinstance(model, lightgbm.Booster | lightgbm.LGBMModel)

    def save(self, model: Any, folder: Path) -> Saved:
        if isinstance(model, lightgbm.Booster):
            model.save_model(str(folder / BOOSTER_FILE))
            config = {"kind": "booster", "model_file": BOOSTER_FILE}
        else:
            _pickled.dump(model, folder)
            config = {"kind": "sklearn-api", "model_file": _pickled.MODEL_FILE}
        return Saved(
            framework="lightgbm",
            framework_version=version_of("lightgbm"),
            requirements=[requirement("lightgbm"), requirement("numpy"), requirement("pandas")],
            config=config,
        )

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        if config.get("kind") == "booster":
            text = bundle.read(config.get("model_file", BOOSTER_FILE), "model_file")
            return lightgbm.Booster(model_str=str(text, "utf-8"))
        return _pickled.load(bundle, config)

    def predict(self, raw: Any, frame: Any) -> Any:
        return raw.predict(frame)

    def predict_proba(self, raw: Any, frame: Any) -> Any | None:
        return raw.predict_proba(frame) if hasattr(raw, "predict_proba") else None

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        booster = raw if isinstance(raw, lightgbm.Booster) else raw.booster_
        gains = booster.feature_importance(importance_type="gain")
        total = float(gains.sum()) or 1.0
        model_names = booster.feature_name()
        if len(names) == len(model_names):
            model_names = names  # LightGBM rewrites spaces in names; report the caller's
        return {
            str(n): round(float(g) / total, 6)
            for n, g in sorted(zip(model_names, gains, strict=True), key=lambda x: -x[1])
        }

    def signature_of(self, raw: Any) -> Signature | None:
        if isinstance(raw, lightgbm.LGBMModel) and not raw.__sklearn_is_fitted__():
            return None
        booster = raw if isinstance(raw, lightgbm.Booster) else raw.booster_
        names_in = getattr(raw, "feature_names_in_", None)  # the caller's own spelling
        names = None if names_in is None else [str(n) for n in names_in]
        if names is None:  # a Booster's names are sanitized (no spaces); Column_<i> when it had none
            names = [str(n) for n in booster.feature_name()]
            if names == [f"Column_{i}" for i in range(len(names))]:
                names = None
        dtypes = _categorical_dtypes(booster)
        if isinstance(raw, lightgbm.LGBMClassifier):
            outputs = prediction_output(raw, "classifier", DType.FLOAT64)
        else:  # a regressor, or a Booster's scores
            outputs = prediction_output(raw, "regressor", DType.FLOAT64)
        return signature_from(names, booster.num_feature(), dtypes=dtypes, outputs=outputs)


def _categorical_dtypes(booster: lightgbm.Booster) -> dict[int, DType]:
    """Columns fitted as pandas categoricals, typed by their categories."""
    categories = booster.pandas_categorical or []
    if not categories:
        return {}
    infos = booster.dump_model(num_iteration=1)["feature_infos"]  # one tree: cheap
    positions = [i for i, info in enumerate(infos.values()) if info.get("values")]
    found = {i: dtype_of_values(c) for i, c in zip(positions, categories, strict=False)}
    return {i: d for i, d in found.items() if d is not None}


FLAVOR = LightGBMFlavor()
