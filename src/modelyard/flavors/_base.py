"""What a flavor is, and which flavor handles a given model object."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from modelyard.core.errors import MissingDependencyError, ValidationError
from modelyard.core.signature import Signature
from modelyard.flavors._manifest import BundleFolder
from modelyard.flavors._python_model import PythonModel


@dataclass
class Saved:
    """What a flavor wrote into a bundle folder."""

    framework: str
    framework_version: str
    requirements: list[str]
    config: dict[str, Any] = field(default_factory=dict)


class Flavor(Protocol):
    """Saves, loads and scores one kind of model."""

    name: str

    def handles(self, model: Any) -> bool: ...

    def save(self, model: Any, folder: Path) -> Saved: ...

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        """The model in ``bundle``; files are reached only through ``bundle.read`` (bytes,
        verified as read: use it whenever the library loads from memory), ``bundle.file`` or
        ``bundle.folder`` (paths, only when the library insists on opening files)."""
        ...

    def predict(self, raw: Any, frame: Any) -> Any: ...

    def predict_proba(self, raw: Any, frame: Any) -> Any | None: ...

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None: ...

    def signature_of(self, raw: Any) -> Signature | None:
        """The signature the fitted model declares by itself (see ``_fitted``), or None."""
        ...


# name -> module holding a FLAVOR object; imported only when needed
_REGISTRY: dict[str, tuple[str, str, str | None]] = {
    # name: (module, package that must be installed, extra)
    "python": ("modelyard.flavors._python", "cloudpickle", None),
    "lightgbm": ("modelyard.flavors._lightgbm", "lightgbm", "lightgbm"),
    "xgboost": ("modelyard.flavors._xgboost", "xgboost", "xgboost"),
    "sklearn": ("modelyard.flavors._sklearn", "scikit-learn", "sklearn"),
    "onnx": ("modelyard.flavors._onnx", "onnxruntime", "onnx"),
}


def flavor_names() -> list[str]:
    return list(_REGISTRY)


def get_flavor(name: str) -> Flavor:
    if name not in _REGISTRY:
        raise ValidationError(f"unknown flavor {name!r}; known flavors are {sorted(_REGISTRY)}")
    module_name, package, extra = _REGISTRY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise MissingDependencyError(package, extra, f"The {name} flavor") from error
    flavor: Flavor = module.FLAVOR
    return flavor


def _module_root(model: Any) -> str:
    return type(model).__module__.split(".", 1)[0]


def detect_flavor(model: Any) -> Flavor:
    """The flavor for a live model object, judged by its class (no optional import forced)."""
    root = _module_root(model)
    order = {"lightgbm": "lightgbm", "xgboost": "xgboost", "sklearn": "sklearn", "onnx": "onnx"}
    if isinstance(model, PythonModel):
        return get_flavor("python")
    if root in order:
        flavor = get_flavor(order[root])
        if flavor.handles(model):
            return flavor
    try:  # a scikit-learn-compatible estimator from another package
        sklearn: Flavor | None = get_flavor("sklearn")
    except MissingDependencyError:
        sklearn = None
    if sklearn is not None and sklearn.handles(model):
        return sklearn
    raise ValidationError(
        f"no flavor knows how to save a {type(model).__module__}.{type(model).__name__}; "
        f"known flavors are {sorted(_REGISTRY)} — wrap it in a modelyard.PythonModel subclass"
    )


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def requirement(package: str) -> str:
    return f"{package}=={version_of(package)}"
