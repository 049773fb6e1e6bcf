"""Model flavors and bundles: save a model with its signature and hashes, load it back safely."""

from modelyard.flavors._base import detect_flavor, flavor_names, get_flavor
from modelyard.flavors._bundle import (
    EXAMPLE_FILE,
    load_bundle,
    load_verified,
    read_example,
    save_model,
    verified_manifest,
)
from modelyard.flavors._manifest import (
    MANIFEST,
    BundleFolder,
    Manifest,
    hash_folder,
    read_manifest,
    verify_folder,
)
from modelyard.flavors._model import Model
from modelyard.flavors._python_model import ModelContext, PythonModel
from modelyard.flavors._signature import enforce, infer_signature

__all__ = [
    "EXAMPLE_FILE",
    "MANIFEST",
    "BundleFolder",
    "Manifest",
    "Model",
    "ModelContext",
    "PythonModel",
    "detect_flavor",
    "enforce",
    "flavor_names",
    "get_flavor",
    "hash_folder",
    "infer_signature",
    "load_bundle",
    "load_verified",
    "read_example",
    "read_manifest",
    "save_model",
    "verified_manifest",
    "verify_folder",
]
