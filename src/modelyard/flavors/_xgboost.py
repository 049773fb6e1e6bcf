"""The XGBoost flavor: the scikit-learn API models (pickled) and Boosters (native JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xgboost

from modelyard.core.signature import DType, Signature
from modelyard.flavors import _pickled
from modelyard.flavors._base import Saved, requirement, version_of
from modelyard.flavors._fitted import prediction_output, signature_from
from modelyard.flavors._manifest import BundleFolder

BOOSTER_FILE = "model.json"
# XGBoost's feature types: q(uantitative) and float are numbers, i(ndicator) is 0/1, c(ategorical)
_FEATURE_TYPES = {
    "float": DType.FLOAT64,
    "q": DType.FLOAT64,
    "int": DType.INT64,
    "i": DType.BOOL,
    "c": DType.STRING,
}


class XGBoostFlavor:
    name = "xgboost"

    def handles(self, model: Any) -> bool:
        return isinstance(model, xgboost.Booster | xgboost.XGBModel)

    def save(self, model: Any, folder: Path) -> Saved:
        if isinstance(model, xgboost.Booster):
            model.save_model(str(folder / BOOSTER_FILE))
            config = {"kind": "booster", "model_file": BOOSTER_FILE}
        else:
            _pickled.dump(model, folder)
            config = {"kind": "sklearn-api", "model_file": _pickled.MODEL_FILE}
        package = "xgboost" if version_of("xgboost") != "unknown" else "xgboost-cpu"
        return Saved(
            framework="xgboost",
            framework_version=version_of(package),
            requirements=[requirement(package), requirement("numpy"), requirement("pandas")],
            config=config,
        )

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        if config.get("kind") == "booster":
            booster = xgboost.Booster()
            booster.load_model(bytearray(bundle.read(config.get("model_file", BOOSTER_FILE), "model_file")))
            return booster
        return _pickled.load(bundle, config)

    def predict(self, raw: Any, frame: Any) -> Any:
        if isinstance(raw, xgboost.Booster):
            return raw.predict(xgboost.DMatrix(frame))
        return raw.predict(frame)

    def predict_proba(self, raw: Any, frame: Any) -> Any | None:
        return raw.predict_proba(frame) if hasattr(raw, "predict_proba") else None

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        booster = raw if isinstance(raw, xgboost.Booster) else raw.get_booster()
        scores = booster.get_score(importance_type="gain")
        if not scores:
            return None
        feature_names = booster.feature_names or names
        by_name = dict.fromkeys(feature_names, 0.0)  # unused features score zero
        for key, value in scores.items():
            name = key
            if (
                key.startswith("f")
                and key[1:].isdigit()
                and booster.feature_names is None
                and int(key[1:]) < len(feature_names)
            ):
                name = feature_names[int(key[1:])]
            by_name[name] = float(value)  # type: ignore[arg-type]
        total = sum(by_name.values()) or 1.0
        return {n: round(v / total, 6) for n, v in sorted(by_name.items(), key=lambda x: -x[1])}

    def signature_of(self, raw: Any) -> Signature | None:
        if isinstance(raw, xgboost.XGBModel) and not raw.__sklearn_is_fitted__():
            return None
        booster = raw if isinstance(raw, xgboost.Booster) else raw.get_booster()
        types = booster.feature_types or []
        dtypes = {i: _FEATURE_TYPES[t] for i, t in enumerate(types) if t in _FEATURE_TYPES}
        kind = "classifier" if isinstance(raw, xgboost.XGBClassifier) else "regressor"
        return signature_from(
            booster.feature_names,
            booster.num_features(),
            dtypes=dtypes,
            outputs=prediction_output(raw, kind, DType.FLOAT32),
        )


FLAVOR = XGBoostFlavor()
