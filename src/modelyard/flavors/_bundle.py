"""Model bundles: a folder with the model's files and a manifest that hashes each of them.

``save_model`` writes one; ``load_bundle`` loads one only after every file matched the
hashes the caller trusts (those recorded at registration), or with ``trusted=True``.
For a registered bundle, ``verified_manifest`` hashes the manifest's bytes against the
registered digest before parsing them (``manifest_from_bytes`` when the bytes come from
elsewhere than a folder, a blob store), and ``load_verified`` / ``load_from`` then load it;
every file is hashed as the flavor reads it (``BundleFolder``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.artifacts import Buffer
from modelyard.core.errors import IntegrityError, UntrustedModelError, ValidationError
from modelyard.core.hashing import sha256_bytes
from modelyard.core.ids import now_ms
from modelyard.core.signature import InputKind, Signature
from modelyard.flavors._base import Flavor, detect_flavor, get_flavor
from modelyard.flavors._manifest import (
    MANIFEST,
    BundleFolder,
    Manifest,
    hash_folder,
    read_manifest,
    verify_folder,
)
from modelyard.flavors._model import Model
from modelyard.flavors._onnx_convert import convert_checked
from modelyard.flavors._python import ARTIFACTS
from modelyard.flavors._signature import as_frame, infer_signature, validate_example

EXAMPLE_FILE = "input_example.json"
ONNX_FILE = "model.onnx"
MAX_EXAMPLE_ROWS = 20


def _example_frame(example: Any) -> pd.DataFrame:
    frame, _ = as_frame(example)
    return frame.head(MAX_EXAMPLE_ROWS)


def _write_example(frame: pd.DataFrame, folder: Path) -> None:
    payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    (folder / EXAMPLE_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")


def read_example(folder: Path, manifest: Manifest) -> pd.DataFrame | None:
    """The input example of the bundle in ``folder`` (hashed as it is read)."""
    return _example_of(BundleFolder.verified(folder, manifest.files), manifest)


def _example_of(bundle: BundleFolder, manifest: Manifest) -> pd.DataFrame | None:
    if not manifest.input_example:
        return None
    return _example_frame_of(bundle.read(manifest.input_example, "input_example"), manifest)


def _example_frame_of(data: bytes | Buffer, manifest: Manifest) -> pd.DataFrame:
    payload = json.loads(str(data, "utf-8"))
    frame = pd.DataFrame(payload["data"], columns=payload["columns"])
    if manifest.signature is not None:
        for spec in manifest.signature.inputs:
            if spec.name in frame.columns and spec.dtype.is_numeric:
                frame[spec.name] = frame[spec.name].astype(
                    "float64" if frame[spec.name].isna().any() else spec.dtype.value
                )
    return frame


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    requirements: list[str] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    onnx: bool = False,
) -> Manifest:
    """Write ``model`` as a bundle folder at ``path`` (which must not exist yet).

    The signature, when not given, is inferred from ``input_example`` (its columns, and the
    model's output on its first row), else read from the fitted model itself (scikit-learn's
    ``feature_names_in_``/``n_features_in_``, LightGBM's and XGBoost's feature names and
    types; a model fitted on a bare array gets positional inputs ``f0 .. f{k-1}``, see
    ``modelyard.flavors._fitted``); a model that declares nothing is saved without one. The
    example is checked against the signature. With ``onnx=True`` a
    scikit-learn, LightGBM or XGBoost model is also converted to ONNX, and the graph is kept
    only if it reproduces the model's output on the input example (the manifest says why
    not otherwise). Written to a temporary folder and renamed into place, so a failure
    leaves nothing behind.
    """
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise ValidationError(
            f"cannot save a model to {str(target)!r}: the folder exists and is not empty"
        )
    chosen: Flavor = get_flavor(flavor) if flavor else detect_flavor(model)
    if not chosen.handles(model):
        raise ValidationError(f"the {chosen.name} flavor cannot save a {type(model).__name__}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        saved = chosen.save(model, staging)
        if artifacts:
            if chosen.name != "python":
                raise ValidationError(
                    "artifacts= is for PythonModel models; other flavors keep their state in the model"
                )
            (staging / ARTIFACTS).mkdir()
            saved.config["artifacts"] = {}
            for name, source in artifacts.items():
                src = Path(source)
                if not src.exists():
                    raise ValidationError(
                        f"artifact {name!r} points at {str(src)!r}, which does not exist"
                    )
                dest = staging / ARTIFACTS / src.name
                shutil.copytree(src, dest) if src.is_dir() else shutil.copy2(src, dest)
                saved.config["artifacts"][name] = src.name
        example = None if input_example is None else _example_frame(input_example)
        if signature is None and example is not None:
            _, kind = as_frame(input_example)
            sample = example if kind is InputKind.DATAFRAME else example.to_numpy()
            # a PythonModel may need its artifacts (load_context) before it can predict
            if chosen.name == "python":
                listed = [p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()]
                scorer = chosen.load(BundleFolder.of(staging, listed), saved.config)
            else:
                scorer = model
            output = chosen.predict(scorer, sample[:1])  # a one-row dry run types the output
            signature = infer_signature(sample, output)
        elif signature is None:
            signature = _declared_signature(chosen, model)
        if signature is not None and example is not None:
            validate_example(signature, example)
        if example is not None:
            _write_example(example, staging)
        if onnx:
            saved.config["onnx"] = _attach_onnx(model, chosen, example, signature, staging)
        importance = None
        if signature is not None:
            try:
                importance = chosen.feature_importance(model, signature.input_names)
            except Exception:
                importance = None
        manifest = Manifest(
            flavor=chosen.name,
            framework=saved.framework,
            framework_version=saved.framework_version,
            python_version=platform.python_version(),
            created_time=now_ms(),
            signature=signature,
            requirements=requirements if requirements is not None else saved.requirements,
            flavor_config=saved.config,
            input_example=EXAMPLE_FILE if example is not None else None,
            feature_importance=importance,
        )
        manifest.files = hash_folder(staging)
        (staging / MANIFEST).write_bytes(manifest.dump())
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
        return manifest
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _declared_signature(flavor: Flavor, model: Any) -> Signature | None:
    """What the fitted model says of its input; None when it cannot say (the registry then
    warns that the model has no signature, naming what to pass)."""
    try:
        return flavor.signature_of(model)
    except Exception:  # an estimator whose attributes do not read as expected: infer nothing
        return None


def _attach_onnx(
    model: Any,
    flavor: Flavor,
    example: pd.DataFrame | None,
    signature: Signature | None,
    staging: Path,
) -> dict[str, Any]:
    if flavor.name not in ("sklearn", "lightgbm", "xgboost"):
        raise ValidationError(
            f"onnx=True converts sklearn, LightGBM and XGBoost models, not {flavor.name}"
        )
    if example is None or signature is None:
        raise ValidationError("onnx=True needs an input_example: the conversion is checked on it")
    if not all(c.dtype.is_numeric or c.dtype.value == "bool" for c in signature.inputs):
        return {"kept": False, "reason": "ONNX conversion needs all-numeric inputs"}
    sample = example if signature.input_kind is InputKind.DATAFRAME else example.to_numpy()
    result = convert_checked(model, flavor, sample)
    if result.model is None:
        return {"kept": False, "reason": result.reason}
    (staging / ONNX_FILE).write_bytes(result.model.SerializeToString())
    return {
        "kept": True,
        "file": ONNX_FILE,
        "max_abs_diff": result.max_abs_diff,
        "reason": result.reason,
    }


def load_bundle(
    path: str | os.PathLike[str],
    *,
    expected_files: Mapping[str, str] | None = None,
    trusted: bool = False,
    uri: str | None = None,
    already_verified: bool = False,
    engine: str = "native",
) -> Model:
    """Load a bundle folder.

    With ``expected_files`` (path -> sha256 recorded at registration, the manifest's own
    digest included) the manifest is hashed and compared before it is parsed, and every file
    a flavor reads is hashed as it is read, before anything is unpickled. Without it, the
    folder is not vouched for by anyone and loading it needs ``trusted=True`` (its files are
    still checked against its own manifest). ``already_verified`` is kept for callers of
    earlier versions; files are verified as they are read either way.
    """
    folder = Path(path)
    if expected_files is None:
        if not trusted:
            raise UntrustedModelError(
                f"{str(folder)!r} is not a registered model, so nothing vouches for its bytes and "
                "unpickling it could run arbitrary code; register it, or pass trusted=True if you "
                "made it yourself"
            )
        manifest = read_manifest(folder)
    else:
        manifest = verified_manifest(folder, expected_files, uri=uri, check_files=False)
    return load_verified(folder, manifest, uri=uri, engine=engine)


def verified_manifest(
    folder: Path,
    expected_files: Mapping[str, str],
    *,
    uri: str | None = None,
    check_files: bool = True,
) -> Manifest:
    """The manifest of a registered bundle in ``folder``, or IntegrityError.

    ``expected_files`` is what registration recorded (path -> sha256, ``modelyard.yaml``
    included). The manifest's bytes are hashed against the recorded digest before they are
    parsed, its file map must equal the recorded one, and (with ``check_files``) every file
    is hashed too.
    """
    where = uri or str(folder)
    if MANIFEST not in expected_files:
        raise IntegrityError(
            f"the files recorded for {where!r} include no {MANIFEST}; it was not loaded"
        )
    path = folder / MANIFEST
    try:
        if path.is_symlink():
            raise FileNotFoundError(path)
        data = path.read_bytes()
    except OSError:
        raise IntegrityError(
            f"the bundle of {where!r} in {str(folder)!r} has no readable {MANIFEST}; "
            "it was not loaded"
        ) from None
    manifest = manifest_from_bytes(data, expected_files, where=where, place=str(folder))
    if check_files:
        verify_folder(folder, manifest.files)
    return manifest


def manifest_from_bytes(
    data: bytes | Buffer, expected_files: Mapping[str, str], *, where: str, place: str
) -> Manifest:
    """The manifest in ``data`` (read from ``place``), or IntegrityError: its bytes must hash
    to the digest recorded for ``modelyard.yaml`` in ``expected_files`` before they are
    parsed, and its file map must equal the rest of ``expected_files``."""
    recorded = dict(expected_files)
    manifest_digest = recorded.pop(MANIFEST, None)
    if manifest_digest is None:
        raise IntegrityError(
            f"the files recorded for {where!r} include no {MANIFEST}; it was not loaded"
        )
    actual = sha256_bytes(bytes(data))  # a manifest: small
    if actual != manifest_digest:
        raise IntegrityError(
            f"the manifest of {where!r} in {place!r} hashes to {actual[:16]}..., not the "
            f"registered {manifest_digest[:16]}...; it was tampered with or corrupted and was "
            "not read"
        )
    try:
        manifest = Manifest.parse(data, f"the manifest of {where!r}")
    except ValidationError as error:
        raise IntegrityError(f"{error}; it was not loaded") from None
    if recorded != manifest.files:
        raise IntegrityError(
            f"the manifest of {where!r} lists files or hashes that differ from those recorded "
            "at registration; it was not loaded"
        )
    return manifest


def load_verified(
    folder: Path, manifest: Manifest, *, uri: str | None = None, engine: str = "native"
) -> Model:
    """Load the bundle in ``folder`` whose ``manifest`` was verified already; each file is
    hashed as the flavor reads it, and flavors reach only files the manifest lists."""
    bundle = BundleFolder.verified(folder, manifest.files)
    return load_from(bundle, manifest, uri=uri or str(folder), engine=engine)


def load_from(bundle: BundleFolder, manifest: Manifest, *, uri: str, engine: str = "native") -> Model:
    """Load ``bundle`` (a folder, or blobs read in place) under its verified ``manifest``."""
    if engine == "onnx":
        onnx_info = manifest.flavor_config.get("onnx") or {}
        if not onnx_info.get("kept"):
            raise ValidationError(
                f"{uri!r} has no ONNX graph ({onnx_info.get('reason', 'it was saved without onnx=True')}); "
                "load it with engine='native'"
            )
        onnx_flavor = get_flavor("onnx")
        return Model(
            onnx_flavor.load(bundle, {"model_file": onnx_info.get("file")}),
            onnx_flavor,
            manifest,
            uri=uri,
        )
    if engine != "native":
        raise ValidationError(f"engine {engine!r} is not 'native' or 'onnx'")
    flavor = get_flavor(manifest.flavor)
    raw = flavor.load(bundle, manifest.flavor_config)
    if not manifest.input_example:
        return Model(raw, flavor, manifest, uri=uri)
    # the example's bytes are read (and hashed) now, its DataFrame built on first use
    data = bundle.read(manifest.input_example, "input_example")
    return Model(
        raw, flavor, manifest, uri=uri, example_reader=lambda: _example_frame_of(data, manifest)
    )
