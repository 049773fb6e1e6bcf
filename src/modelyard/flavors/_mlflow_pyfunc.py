"""The ``loader_module`` of models exported to MLflow's format that MLflow has no flavor for
(``PythonModel`` subclasses, ONNX graphs scored as modelyard scores them).

``mlflow.pyfunc.load_model`` imports this module and calls ``_load_pyfunc(<folder>/bundle)``:
the modelyard bundle is loaded (its files checked against its manifest's sha256s) and
scored through ``Model.predict``, so the predictions are modelyard's. The environment
needs modelyard installed, and it opts into loading pickles as MLflow's does
(``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelyard.core.errors import UntrustedModelError
from modelyard.flavors._bundle import load_bundle
from modelyard.flavors._manifest import read_manifest
from modelyard.flavors._model import Model

PICKLED_FLAVORS = {"python", "sklearn"}


class ModelyardPyfunc:
    """What ``mlflow.pyfunc`` wraps: ``predict(data, params=None)``."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data)

    def get_raw_model(self) -> Any:
        return self.model.raw


def _load_pyfunc(path: str, model_config: Any = None) -> ModelyardPyfunc:
    manifest = read_manifest(Path(path))
    allowed = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "").lower() == "true"
    if manifest.flavor in PICKLED_FLAVORS and not allowed:
        raise UntrustedModelError(
            f"the exported {manifest.flavor} model in {path!r} is a pickle, and unpickling runs "
            "code; as for MLflow's own pickled models, set "
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true if you trust its source"
        )
    # the bundle's files are checked against the sha256s its manifest lists
    return ModelyardPyfunc(load_bundle(path, trusted=True))
