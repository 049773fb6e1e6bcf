"""The ONNX flavor: an ONNX graph scored with onnxruntime on the CPU."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from modelyard.artifacts import Buffer
from modelyard.core.signature import Signature
from modelyard.flavors._base import Saved, requirement, version_of
from modelyard.flavors._fitted import signature_from
from modelyard.flavors._manifest import BundleFolder

MODEL_FILE = "model.onnx"


def session(model: Path | bytes | Buffer) -> ort.InferenceSession:
    """An inference session on a graph file, or on a graph's bytes (a bundle's, verified)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = 1  # one request, one core; servers scale with workers
    source = str(model) if isinstance(model, Path) else bytes(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def _feed(sess: ort.InferenceSession, frame: Any) -> dict[str, Any]:
    inputs = sess.get_inputs()
    if len(inputs) == 1:
        return {inputs[0].name: np.asarray(frame, dtype=np.float32)}
    return {i.name: np.asarray(frame[i.name]).reshape(-1, 1).astype(np.float32) for i in inputs}


class ONNXFlavor:
    name = "onnx"

    def handles(self, model: Any) -> bool:
        return isinstance(model, onnx.ModelProto)

    def save(self, model: Any, folder: Path) -> Saved:
        onnx.save_model(model, str(folder / MODEL_FILE))
        return Saved(
            framework="onnx",
            framework_version=version_of("onnx"),
            requirements=[requirement("onnxruntime"), requirement("numpy")],
            config={"model_file": MODEL_FILE},
        )

    def load(self, bundle: BundleFolder, config: dict[str, Any]) -> Any:
        return session(bundle.read(config.get("model_file", MODEL_FILE), "model_file"))

    def predict(self, raw: Any, frame: Any) -> Any:
        return np.asarray(raw.run(None, _feed(raw, frame))[0]).ravel()

    def predict_proba(self, raw: Any, frame: Any) -> Any | None:
        outputs = raw.get_outputs()
        if len(outputs) < 2:
            return None
        return np.asarray(raw.run([outputs[1].name], _feed(raw, frame))[0])

    def scorer(self, raw: Any) -> Callable[[np.ndarray, bool], tuple[np.ndarray, np.ndarray | None]] | None:
        """For a graph with one ``[N, k]`` input: a function of a 2-D array giving the labels
        and (when asked and the graph has them) the probabilities from one run, with the input
        and output names looked up once; None for graphs fed column by column."""
        inputs = raw.get_inputs()
        if len(inputs) != 1:
            return None
        feed = inputs[0].name
        names = [o.name for o in raw.get_outputs()]
        both, first = names[:2], names[:1]
        run = raw.run

        def score(matrix: np.ndarray, want_proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
            x = matrix.astype(np.float32, copy=False)
            if want_proba and len(both) == 2:
                labels, proba = run(both, {feed: x})
                return np.asarray(labels).ravel(), np.asarray(proba)
            return np.asarray(run(first, {feed: x})[0]).ravel(), None

        return score

    def feature_importance(self, raw: Any, names: list[str]) -> dict[str, float] | None:
        return None

    def signature_of(self, raw: Any) -> Signature | None:
        """From the graph's inputs: one ``[N, k]`` tensor is k positional columns; several
        ``[N, 1]`` tensors are columns by their names (what ``_feed`` sends them)."""
        inputs = list(raw.graph.input)
        if len(inputs) == 1:
            dims = inputs[0].type.tensor_type.shape.dim
            width = dims[1].dim_value if len(dims) == 2 else 0
            return signature_from(None, width or None)
        return signature_from([i.name for i in inputs], None)


FLAVOR = ONNXFlavor()
