"""The LightGBM flavor: the scikit-learn API models (pickled) and Boosters (native text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm

from modelyard.flavors import _pickled
from modelyard.flavors._base import Saved, requirement, version_of
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
            path = bundle.file(config.get("model_file", BOOSTER_FILE), "model_file")
            return lightgbm.Booster(model_file=str(path))
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


FLAVOR = LightGBMFlavor()
