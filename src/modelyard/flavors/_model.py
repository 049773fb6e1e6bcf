"""A loaded model: one ``predict`` for every flavor, with input checked against the signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.signature import InputKind
from modelyard.flavors._base import Flavor
from modelyard.flavors._explain import explain
from modelyard.flavors._manifest import Manifest
from modelyard.flavors._signature import as_frame, enforce


class Model:
    """A model ready to score. ``predict`` takes a DataFrame, records, a dict of columns or an
    array; it is checked against the signature (missing, extra or mistyped columns are a
    SchemaError naming the column) and returns an array or a DataFrame."""

    def __init__(
        self,
        raw: Any,
        flavor: Flavor,
        manifest: Manifest,
        uri: str | None = None,
        example: pd.DataFrame | None = None,
        example_reader: Callable[[], pd.DataFrame | None] | None = None,
    ) -> None:
        self.raw = raw
        self.flavor = flavor
        self.manifest = manifest
        self.uri = uri
        self._example = example
        # building the example's DataFrame costs more than a small model's whole load and
        # only explanations and gates use it: it is built on first use
        self._example_reader = example_reader

    @property
    def example(self) -> pd.DataFrame | None:
        """The registered input example: background for explanations."""
        if self._example_reader is not None:
            self._example, self._example_reader = self._example_reader(), None
        return self._example

    @property
    def signature(self) -> Any:
        return self.manifest.signature

    @property
    def feature_importance(self) -> dict[str, float] | None:
        return self.manifest.feature_importance

    @property
    def metadata(self) -> Manifest:
        """What MLflow's ``PyFuncModel.metadata`` gives: the bundle's manifest (flavor,
        framework and version, ``signature``, requirements, input example)."""
        return self.manifest

    def get_raw_model(self) -> Any:
        """The framework's own object: the estimator, the Booster, the PythonModel instance."""
        return self.raw

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` instance of a custom model (MLflow's name)."""
        if self.flavor.name != "python":
            raise AttributeError(
                f"the {self.manifest.flavor} model {self.uri or ''} is not a PythonModel; use "
                "get_raw_model()"
            )
        return self.raw

    def _input(self, data: Any) -> Any:
        signature = self.manifest.signature
        if signature is None:
            frame, _ = as_frame(data)
            return frame
        frame = enforce(signature, data)
        if signature.input_kind is InputKind.NDARRAY or self.flavor.name == "onnx":
            return frame.to_numpy()
        return frame

    def predict(self, data: Any) -> Any:
        result = self.flavor.predict(self.raw, self._input(data))
        if isinstance(result, pd.Series):
            return result.to_numpy()
        return result if isinstance(result, pd.DataFrame) else np.asarray(result)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, for classifiers that give them."""
        result = self.flavor.predict_proba(self.raw, self._input(data))
        if result is None:
            raise AttributeError(
                f"the {self.manifest.flavor} model {self.uri or ''} gives no probabilities"
            )
        return np.asarray(result)

    def _score(self, frame: pd.DataFrame) -> Any:
        """The output explanations explain: the positive-class probability, else the prediction.
        ``frame`` is already in signature form (explanations call this thousands of times)."""
        signature = self.manifest.signature
        kind = signature.input_kind if signature is not None else InputKind.DATAFRAME
        raw_input = frame.to_numpy() if kind is InputKind.NDARRAY else frame
        proba = self.flavor.predict_proba(self.raw, raw_input)
        if proba is not None:
            proba = np.asarray(proba)
            return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba.max(axis=1)
        return np.asarray(self.flavor.predict(self.raw, raw_input), dtype=float)

    def explain(self, data: Any) -> pd.DataFrame:
        """Per-row contributions of each input column to the output, plus ``base_value``."""
        if self.flavor.name == "onnx":
            raise AttributeError(
                "ONNX graphs are not explained; load the model with engine='native'"
            )
        signature = self.manifest.signature
        frame = enforce(signature, data) if signature is not None else as_frame(data)[0]
        return explain(
            self.flavor.name, self.raw, frame, self._input(frame), self.example, self._score
        )

    def __repr__(self) -> str:
        return f"<Model {self.uri or ''} flavor={self.manifest.flavor} {self.manifest.framework}=={self.manifest.framework_version}>"
