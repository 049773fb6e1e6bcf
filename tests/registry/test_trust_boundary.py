"""The bundle trust boundary: a bundle never reaches outside itself, nothing is read from the
local cache before it is verified (a bad cache entry is fetched again), and registering
never unpickles what loading would refuse."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import modelyard as my
from modelyard.core.models import RiskCategory
from modelyard.flavors import MANIFEST, save_model
from modelyard.registry._loader import CACHE, cache_root
from tests.registry.blobs import overwrite_blob

PAYLOAD = b"owned\n"


class _Evil:
    """A pickle whose loading creates the folder ``marker``: proof that it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.marker,))


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    return X, (X.a > 9).astype(int)


def _bundle(folder: Path, data: tuple[pd.DataFrame, pd.Series], **kwargs: Any) -> Path:
    X, y = data
    save_model(LogisticRegression().fit(X, y), folder, input_example=X.head(3), **kwargs)
    return folder


def _edit_manifest(folder: Path, **changes: Any) -> dict[str, Any]:
    manifest = yaml.safe_load((folder / MANIFEST).read_text())
    for key, value in changes.items():
        if key == "files":
            manifest["files"].update(value)
        else:
            manifest[key] = value
    (folder / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return dict(manifest)


def _cached_folder(client: my.Client, name: str, version: int = 1) -> Path:
    return cache_root() / client.get_model_version(name, version).manifest_digest


# -- D1: no manifest name reaches outside its bundle -------------------------------------


BAD_NAMES = {
    "absolute": lambda tmp, bundle: (str(tmp / "outside" / "pwned.txt"), tmp / "outside" / "pwned.txt"),
    "parent": lambda tmp, bundle: ("../outside/pwned.txt", tmp / "outside" / "pwned.txt"),
    "backslash": lambda tmp, bundle: ("sub\\pwned.txt", bundle / "sub\\pwned.txt"),
    "drive": lambda tmp, bundle: ("C:/pwned.txt", bundle / "C:" / "pwned.txt"),
}


@pytest.mark.parametrize("kind", sorted(BAD_NAMES))
def test_registering_a_manifest_that_names_a_file_outside_the_bundle_is_refused(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path, kind: str
) -> None:
    bundle = _bundle(tmp_path / "bundle", data)
    key, where = BAD_NAMES[kind](tmp_path, bundle)
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_bytes(PAYLOAD)  # the file exists and hashes right: only its name is wrong
    _edit_manifest(bundle, files={key: hashlib.sha256(PAYLOAD).hexdigest()})
    with pytest.raises(my.ValidationError, match="bundle file name"):
        client.register_model("evil", bundle)
    assert client.search_model_versions() == []


def test_a_nul_in_a_manifest_name_is_refused(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    bundle = _bundle(tmp_path / "bundle", data)
    _edit_manifest(bundle, files={"model.pkl\x00.txt": hashlib.sha256(PAYLOAD).hexdigest()})
    with pytest.raises(my.ValidationError, match="control characters"):
        client.register_model("evil", bundle)
    assert client.search_model_versions() == []


def test_saving_a_bundle_whose_file_name_is_not_a_bundle_path_is_refused(tmp_path: Path) -> None:
    class WithArtifacts(my.PythonModel):
        def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
            return np.zeros(len(model_input))

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "a\\..\\..\\evil.txt").write_text("x")
    with pytest.raises(my.ValidationError, match="backslash"):
        save_model(WithArtifacts(), tmp_path / "m", artifacts={"cfg": tmp_path / "cfg"})
    assert not (tmp_path / "m").exists()


def test_an_input_example_outside_the_bundle_is_refused(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    bundle = _bundle(tmp_path / "bundle", data)
    (tmp_path / "secret.json").write_text(json.dumps({"columns": ["a"], "data": [[1]]}))
    _edit_manifest(bundle, input_example=str(tmp_path / "secret.json"))
    with pytest.raises(my.ValidationError, match="input_example .* is not one of the files"):
        client.register_model("evil", bundle)


def _write_version_directly(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path, key: str
) -> None:
    """A version whose manifest lists ``key``, written into the store without registering."""
    bundle = _bundle(tmp_path / "good", data)
    manifest = yaml.safe_load((bundle / MANIFEST).read_text())
    files = {rel: client.blobs.put_file(bundle / rel) for rel in manifest["files"]}
    files[key] = client.blobs.put_bytes(PAYLOAD)
    manifest["files"][key] = files[key][0]
    files[MANIFEST] = client.blobs.put_bytes(yaml.safe_dump(manifest, sort_keys=False).encode())
    client._registry.ensure_model("evil", owner="mallory", actor="mallory")
    client._registry.create_version(
        "evil",
        actor="mallory",
        source="store",
        run_id=None,
        flavor="sklearn",
        manifest_digest=files[MANIFEST][0],
        files=files,
        signature=None,
        description="",
        owner="mallory",
        risk_category=RiskCategory.MINIMAL,
    )


@pytest.mark.parametrize("kind", ["absolute", "parent"])
def test_a_stored_version_with_a_bad_manifest_fails_to_load_and_writes_nothing(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "outside" / "pwned.txt"
    target.parent.mkdir()
    # the cache fetches into <home>/cache/models/.fetch-*/, four levels below tmp_path
    key = str(target) if kind == "absolute" else "../../../../outside/pwned.txt"
    _write_version_directly(client, data, tmp_path, key)
    with pytest.raises(my.IntegrityError, match="not a safe bundle"):
        client.load_model("models:/evil/1")
    assert not target.exists()
    assert not cache_root().exists() or list(cache_root().iterdir()) == []


def test_building_a_stored_version_with_a_bad_manifest_writes_nothing(
    fluent: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    from modelyard.serving._build import build

    target = tmp_path / "outside" / "pwned.txt"
    target.parent.mkdir()
    _write_version_directly(my.get_client(), data, tmp_path, str(target))
    with pytest.raises(my.IntegrityError, match="not a safe bundle"):
        build("models:/evil/1", tmp_path / "image", tracking_uri=fluent)
    assert not target.exists()


# -- D2 / R9: the cache is verified before it is read, and heals --------------------------


def test_a_tampered_cached_manifest_is_fetched_again_and_its_pickle_never_runs(
    cached_client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    client = cached_client
    X, _ = data
    version = client.register_model("good", _bundle(tmp_path / "bundle", data))
    expected = client.load_model(version.uri).predict(X)  # fills the disk cache
    CACHE.clear()  # as in a new process
    marker = tmp_path / "RCE"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Evil(marker)))
    cached = _cached_folder(client, "good") / MANIFEST
    manifest = yaml.safe_load(cached.read_text())
    manifest["flavor"], manifest["flavor_config"] = "python", {"model_file": str(evil)}
    cached.write_text(yaml.safe_dump(manifest))

    loaded = client.load_model(version.uri)
    assert not marker.exists()
    assert np.array_equal(loaded.predict(X), expected)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == version.manifest_digest


def test_a_corrupt_cache_over_a_corrupt_blob_is_refused(
    cached_client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    client = cached_client
    version = client.register_model("good", _bundle(tmp_path / "bundle", data))
    client.load_model(version.uri)
    CACHE.clear()
    digest, _ = version.files["model.pkl"]
    (_cached_folder(client, "good") / "model.pkl").write_bytes(b"rot")
    overwrite_blob(client, digest, b"rot")
    with pytest.raises(my.IntegrityError, match="corrupted"):
        client.load_model(version.uri)
    assert not _cached_folder(client, "good").exists()


class _Scaled(my.PythonModel):
    """A custom model whose artifact, a factor, is a file read at load time."""

    def load_context(self, context: my.ModelContext) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return (model_input["a"] * self.factor).to_numpy()


def test_a_local_store_loads_in_place_and_refuses_a_blob_that_rots_afterwards(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, _ = data
    version = client.register_model("good", _bundle(tmp_path / "bundle", data))
    expected = client.load_model(version.uri).predict(X)
    assert not cache_root().exists()  # read from the blobs themselves, nothing copied
    CACHE.clear()  # as in a new process
    marker = tmp_path / "RCE"
    overwrite_blob(client, version.files["model.pkl"][0], pickle.dumps(_Evil(marker)))
    with pytest.raises(my.IntegrityError, match="corrupted"):
        client.load_model(version.uri)
    assert not marker.exists()
    overwrite_blob(client, version.files["model.pkl"][0], (tmp_path / "bundle" / "model.pkl").read_bytes())
    assert np.array_equal(client.load_model(version.uri).predict(X), expected)


def test_a_model_whose_artifacts_are_files_loads_from_the_verified_cache_which_heals(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, _ = data
    (tmp_path / "factor.txt").write_text("2.5")
    save_model(_Scaled(), tmp_path / "py", input_example=X.head(2), artifacts={"factor": tmp_path / "factor.txt"})
    version = client.register_model("scaled", tmp_path / "py")
    assert np.allclose(client.load_model(version.uri).predict(X), X.a * 2.5)
    cached = _cached_folder(client, "scaled") / "artifacts" / "factor.txt"
    assert cached.read_text() == "2.5"  # user code is handed paths: they come from the cache
    CACHE.clear()
    cached.write_text("999")
    assert np.allclose(client.load_model(version.uri).predict(X), X.a * 2.5)
    assert cached.read_text() == "2.5"  # the tampered entry was fetched again


@pytest.mark.parametrize("engine", ["native", "onnx"])
def test_flavor_files_must_be_files_the_manifest_lists(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path, engine: str
) -> None:
    """A registered manifest (its digest matches) whose flavor config names a file elsewhere."""
    bundle = _bundle(tmp_path / "bundle", data, onnx=engine == "onnx")
    marker = tmp_path / "RCE"
    outside = tmp_path / "outside.bin"
    if engine == "onnx":
        shutil.copy(bundle / "model.onnx", outside)
        config = yaml.safe_load((bundle / MANIFEST).read_text())["flavor_config"]
        config["onnx"]["file"] = str(outside)
        _edit_manifest(bundle, flavor_config=config)
    else:
        outside.write_bytes(pickle.dumps(_Evil(marker)))
        _edit_manifest(bundle, flavor="python", flavor_config={"model_file": str(outside)})
    version = client.register_model("odd", bundle)
    with pytest.raises(my.IntegrityError, match="not a file its manifest lists"):
        client.load_model(version.uri, engine=engine)
    assert not marker.exists()
    with pytest.raises(my.IntegrityError, match="not a file its manifest lists"):
        client.load_model(bundle, trusted=True, engine=engine)  # an unregistered folder, too
    assert not marker.exists()


# -- R1: registering an MLflow folder runs no pickle unless trusted ----------------------


def _mlflow_folder(folder: Path, flavors: str, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    (folder / "MLmodel").write_text(f"artifact_path: model\nflavors:\n{flavors}")
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


SKLEARN_FLAVOR = "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: {fmt}\n"
PYFUNC_FLAVOR = "  python_function:\n    python_model: python_model.pkl\n    loader_module: mlflow.pyfunc.model\n"


@pytest.mark.parametrize(
    ("flavors", "file_name"),
    [
        (SKLEARN_FLAVOR.format(fmt="cloudpickle"), "model.pkl"),
        (SKLEARN_FLAVOR.format(fmt="pickle"), "model.pkl"),
        (PYFUNC_FLAVOR, "python_model.pkl"),
    ],
)
def test_registering_a_pickled_mlflow_folder_needs_trusted(
    client: my.Client, tmp_path: Path, flavors: str, file_name: str
) -> None:
    marker = tmp_path / "RCE"
    folder = _mlflow_folder(tmp_path / "mlflow", flavors, {file_name: pickle.dumps(_Evil(marker))})
    with pytest.raises(my.UntrustedModelError, match="trusted=True"):
        client.register_model("m", folder)
    assert not marker.exists()
    assert client.search_model_versions() == []


def test_registering_a_skops_folder_keeps_skops_trust_check(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    import skops.io
    from sklearn.tree import DecisionTreeClassifier

    X, y = data
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)  # holds sklearn.tree._tree.Tree
    folder = _mlflow_folder(tmp_path / "mlflow", SKLEARN_FLAVOR.format(fmt="skops"), {})
    skops.io.dump(model, folder / "model.pkl")
    with pytest.raises(my.UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree.*trusted=True"):
        client.register_model("tree", folder, input_example=X.head(3))
    assert client.search_model_versions() == []
    version = client.register_model("tree", folder, input_example=X.head(3), trusted=True)
    assert np.array_equal(client.load_model(version.uri).predict(X), model.predict(X))


def test_mlflow_files_outside_the_folder_are_refused_even_when_trusted(
    client: my.Client, tmp_path: Path
) -> None:
    marker = tmp_path / "RCE"
    (tmp_path / "elsewhere.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    folder = _mlflow_folder(
        tmp_path / "mlflow", SKLEARN_FLAVOR.format(fmt="cloudpickle").replace("model.pkl", "../elsewhere.pkl"), {}
    )
    with pytest.raises(my.ValidationError, match="climbs out"):
        client.register_model("m", folder, trusted=True)
    assert not marker.exists()
