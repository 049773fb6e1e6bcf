"""A loaded model version ready to serve: its input spec, and one call that gives labels and,
for classifiers, probabilities (computed once: labels are the arg-max of the probabilities).

A model registered without a signature is served with the one its fitted self declares
(``Flavor.signature_of``: scikit-learn's ``feature_names_in_``, LightGBM's and XGBoost's
feature names), so requests are checked, and tensors mapped, by its own column names. When
the model itself refuses an input (scikit-learn's, LightGBM's or XGBoost's validation of
columns, shapes or dtypes), that is ``ModelRejectedInput``, a 422 quoting the model, not a
server failure.
"""

from __future__ import annotations

import re
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import SchemaError
from modelyard.core.signature import Signature
from modelyard.flavors import Model
from modelyard.serving._inputs import Batch, InputSpec

# Classifiers whose labels are not the arg-max of their probabilities.
_THRESHOLDED = {"TunedThresholdClassifierCV", "FixedThresholdClassifier"}


class ModelRejectedInput(SchemaError):
    """The model's own input validation refused a request the signature let through."""


# Where scikit-learn, LightGBM and XGBoost check their input: (file suffix, function or None
# for any function in that file). An error raised through one of these is about the input.
_VALIDATORS: tuple[tuple[str, str | None], ...] = (
    ("sklearn/utils/validation.py", None),
    ("sklearn/compose/_column_transformer.py", "_check_n_features"),
    ("sklearn/compose/_column_transformer.py", "_check_feature_names"),
    ("sklearn/utils/_indexing.py", "_get_column_indices"),
    ("lightgbm/basic.py", "_data_from_pandas"),
    ("lightgbm/basic.py", "_check_for_bad_pandas_dtypes"),
    ("xgboost/core.py", "_validate_features"),
    ("xgboost/data.py", None),
)
_REJECTION_WORDS = re.compile(
    r"number of features|feature shape mismatch|feature_names mismatch|feature names"
    r"|expecting \d+ features",
    re.IGNORECASE,
)
_MESSAGE_CAP = 300
_ROW_WISE = frozenset({"sklearn", "lightgbm", "xgboost"})


def model_rejection(error: BaseException) -> str | None:
    """What the model said, when ``error`` is the model refusing its input (columns, shape,
    dtypes) rather than failing; None otherwise. Capped, on one line."""
    kind = type(error).__name__
    if not isinstance(error, ValueError | TypeError | KeyError) and kind not in (
        "LightGBMError",
        "XGBoostError",
    ):
        return None
    frames = traceback.extract_tb(error.__traceback__)
    validated = any(
        frame.filename.replace("\\", "/").endswith(suffix)
        and (function is None or frame.name == function)
        for frame in frames
        for suffix, function in _VALIDATORS
    )
    message = " ".join(str(error).split())
    if not validated and not _REJECTION_WORDS.search(message):
        return None
    if len(message) > _MESSAGE_CAP:
        message = message[: _MESSAGE_CAP - 3] + "..."
    return message or kind


@dataclass(slots=True)
class Output:
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[Any] | None = None

    @property
    def scores(self) -> np.ndarray | None:
        """The positive-class probability of a binary classifier (what monitoring watches)."""
        p = self.probabilities
        if p is None or p.ndim != 2 or p.shape[1] != 2:
            return None
        return p[:, 1]


def allows_missing(model: Model) -> bool:
    """Whether the model scores rows with missing values (NaN / null)."""
    name = model.flavor.name
    if name in ("lightgbm", "xgboost", "python"):
        return True
    if name == "sklearn":
        try:
            from sklearn.utils import get_tags

            return bool(get_tags(model.raw).input_tags.allow_nan)
        except Exception:  # older scikit-learn, or an estimator without tags
            return False
    return False


def model_classes(model: Model) -> list[Any] | None:
    """Class labels, when the model's labels are the arg-max of its probabilities."""
    raw = model.raw
    if model.flavor.name not in ("sklearn", "lightgbm", "xgboost"):
        return None
    if type(raw).__name__ in _THRESHOLDED:
        return None
    classes = getattr(raw, "classes_", None)
    return None if classes is None else list(np.asarray(classes).tolist())


@dataclass(eq=False)
class Scorer:
    """One model version, loaded and warmed; equal only to itself (hashed by identity)."""

    model: Model
    name: str
    version: int | None
    uri: str
    digest: str
    load_seconds: float = 0.0
    spec: InputSpec = field(init=False)
    classes: list[Any] | None = field(init=False)

    def __post_init__(self) -> None:
        signature = self.model.signature or _fitted_signature(self.model)
        self.spec = InputSpec(signature, allows_missing(self.model))
        self.classes = model_classes(self.model)
        self._classes_array = np.asarray(self.classes) if self.classes is not None else None
        # Set by warm(): the model, though fitted on a DataFrame, gives the same answer for
        # the bare array of its columns — 3x cheaper per call than building a DataFrame.
        self.array_ok = False
        # An ONNX graph with one [N, k] input: labels and probabilities from one run on the
        # batch's matrix (no DataFrame, no second run, names looked up once).
        make = getattr(self.model.flavor, "scorer", None)
        self._graph = make(self.model.raw) if make is not None else None
        # Rows scored independently of each other, so rows of many requests may share one
        # call (micro-batching) and each gets the answer it would get alone.
        self.batchable = self._graph is not None or self.model.flavor.name in _ROW_WISE

    @property
    def label(self) -> str:
        return str(self.version) if self.version is not None else self.digest[:12]

    @property
    def signature(self) -> Signature | None:
        """The registered signature, else the one the fitted model declares."""
        return self.spec.signature

    def score(self, batch: Batch, *, want_proba: bool = True) -> Output:
        """Labels (and probabilities when the model gives them) for a checked batch; raises
        ``ModelRejectedInput`` when the model's own validation refuses the batch."""
        try:
            return self._score(batch, want_proba)
        except Exception as error:
            said = model_rejection(error)
            if said is None:
                raise
            raise ModelRejectedInput(f"the model rejected the input: {said}") from None

    def _score(self, batch: Batch, want_proba: bool) -> Output:
        flavor, raw = self.model.flavor, self.model.raw
        if self._graph is not None and batch.matrix is not None:
            labels, proba = self._graph(batch.matrix, want_proba)
            return Output(labels, proba, self.classes)
        x = batch.matrix if self.array_ok and batch.matrix is not None else self.spec.model_input(batch)
        if want_proba and self._classes_array is not None:
            proba = flavor.predict_proba(raw, x)
            if proba is not None:
                proba = np.asarray(proba)
                return Output(self._classes_array[proba.argmax(axis=1)], proba, self.classes)
        predictions = flavor.predict(raw, x)
        if isinstance(predictions, pd.DataFrame | pd.Series):
            predictions = predictions.to_numpy()
        predictions = np.asarray(predictions)
        proba_out = None
        if want_proba and self.model.flavor.name != "python":
            got = flavor.predict_proba(raw, x)
            proba_out = None if got is None else np.asarray(got)
        return Output(predictions, proba_out, self.classes)

    def explain(self, batch: Batch) -> pd.DataFrame:
        frame = pd.DataFrame(batch.columns)
        return self.model.explain(frame)

    def warm(self) -> None:
        """Score the registered example once, so the first real request pays no lazy setup,
        and find out whether the model can take a bare array instead of a DataFrame."""
        example = self.model.example
        if example is None or self.model.signature is None:
            return
        try:
            batch = self.spec.from_records(pd.DataFrame(example).to_dict(orient="records"), "example")
            reference = self.score(batch)
        except Exception:  # a model that cannot score its own example still serves
            return
        if (
            self.spec.ndarray
            or batch.matrix is None
            or self.model.flavor.name not in ("sklearn", "lightgbm", "xgboost")
        ):
            return
        _quiet_feature_names()
        self.array_ok = True
        try:
            fast = self.score(batch)
        except Exception:  # column selection by name, say: keep DataFrames
            self.array_ok = False
            return
        same = np.array_equal(fast.predictions, reference.predictions) and (
            (fast.probabilities is None and reference.probabilities is None)
            or (
                fast.probabilities is not None
                and reference.probabilities is not None
                and np.allclose(fast.probabilities, reference.probabilities, rtol=0, atol=1e-12)
            )
        )
        self.array_ok = bool(same)


def _fitted_signature(model: Model) -> Signature | None:
    """The signature a model registered without one declares by itself, if any."""
    try:
        return model.flavor.signature_of(model.raw)
    except Exception:  # an odd estimator: serve it unchecked, as before
        return None


def _quiet_feature_names() -> None:
    """scikit-learn warns when an estimator fitted with column names gets a bare array; the
    server has already checked the names and their order, so that warning says nothing.
    (Adding the same filter again replaces it, so this is idempotent.)"""
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)


def load_scorer(model: Model, name: str, version: int | None, uri: str, digest: str, started: float) -> Scorer:
    scorer = Scorer(model, name, version, uri, digest, time.perf_counter() - started)
    scorer.warm()
    return scorer
