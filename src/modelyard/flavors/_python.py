"""The python flavor: a PythonModel subclass, pickled with cloudpickle, plus its artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cloudpickle

from modelyard.core.signature import Signature
from modelyard.flavors import _pickle_buffers
from modelyard.flavors._base import Saved, requirement, version_of
from modelyard.flavors._manifest import BundleFolder
from modelyard.flavors._python_model import ModelContext, PythonModel

MODEL_FILE = "python_model.pkl"
ARTIFACTS = "artifacts"


class PythonFlavor:
    name = "python"

    def handles(self, model: Any) -> bool:
        return isinstance(model, PythonModel)

    def save(self, model: Any, folder: Path) -> Saved:
        with open(folder / MODEL_FILE, "wb") as handle:
            cloudpickle.dump(model, handle)
        return Saved(
            framework="python",
            framework_version=version_of("cloudpickle"),
            requirements=[requirement("cloudpickle"), requirement("numpy"), requirement("pandas")],
            config={
                "model_file": MODEL_FILE,
                "class": f"{type(model).__module__}.{type(model).__qualname__}",
            },
        )

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        # artifacts are paths handed to user code: asked for first, so a bundle read in place
        # from the blob store (which has no folder) is refused before anything is unpickled
        artifacts = {
            name: str(bundle.folder(f"{ARTIFACTS}/{rel}", f"artifacts.{name}"))
            for name, rel in (config.get("artifacts") or {}).items()
        }
        # bundle.read returns only bytes whose sha256 matched the registered digest as read
        data = bundle.read(config.get("model_file", MODEL_FILE), "model_file")
        model = _pickle_buffers.loads(data, cloudpickle.loads)
        model.load_context(ModelContext(artifacts=artifacts))
        return model

    def predict(self, raw: Any, frame: Any) -> Any:
        return raw.predict(frame)

    def predict_proba(self, raw: Any, frame: Any) -> Any | None:
        return raw.predict_proba(frame) if hasattr(raw, "predict_proba") else None

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        return None

    def signature_of(self, raw: Any) -> Signature | None:
        return None  # arbitrary code: only an input example or a signature says what it takes


FLAVOR = PythonFlavor()
