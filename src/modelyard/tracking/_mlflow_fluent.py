"""The rest of MLflow's fluent tracking names: ``log_table``, ``log_image``, ``get_parent_run``,
``set_experiment_tags``, ``set_registry_uri``/``get_registry_uri``.

Thin, like the rest of the fluent API: each is one call on the client.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from modelyard.core import validation as v
from modelyard.core.entities import Run
from modelyard.core.errors import (
    MissingDependencyError,
    NotFoundError,
    NotSupportedError,
    ValidationError,
)
from modelyard.core.ids import now_ms
from modelyard.core.settings import resolve
from modelyard.tracking import _fluent


def _table(data: Any) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise ValidationError(
        f"log_table data must be a pandas DataFrame or a dict of columns, got {type(data).__name__}"
    )


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a DataFrame (or a dict of columns) as ``artifact_file`` (JSON, ``columns`` and
    ``data`` as MLflow writes it); rows are appended when the file exists already."""
    import pandas as pd

    if not artifact_file.endswith(".json"):
        raise ValidationError(
            f"log_table artifact_file {artifact_file[:200]!r} must end with .json (it is stored "
            "as JSON, as in MLflow)"
        )
    client = _fluent.get_client()
    target = run_id or _fluent._run_id()
    frame = _table(data)
    try:
        stored = json.loads(client.read_artifact(target, artifact_file))
        frame = pd.concat(
            [pd.DataFrame(stored["data"], columns=stored["columns"]), frame], ignore_index=True
        )
    except NotFoundError:
        pass
    payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    client.log_bytes(target, json.dumps(payload).encode("utf-8"), artifact_file)


def _png(image: Any) -> bytes:
    try:
        from PIL import Image
    except ImportError as error:
        raise MissingDependencyError("pillow", "plots", "log_image") from error
    import numpy as np

    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise ValidationError(
                f"log_image takes an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                f"got shape {array.shape}"
            )
        if array.dtype.kind == "f":
            if array.size and (array.min() < 0 or array.max() > 1):
                raise ValidationError(
                    "log_image: float pixel values must lie in [0, 1] (or give uint8 in [0, 255])"
                )
            array = (array * 255).round()
        elif array.size and (array.min() < 0 or array.max() > 255):
            raise ValidationError("log_image: integer pixel values must lie in [0, 255]")
        image = Image.fromarray(array.astype(np.uint8).squeeze())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def log_image(
    image: Any,
    artifact_file: str | None = None,
    *,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Store an image (a NumPy array or a PIL image) as PNG: at ``artifact_file``, or, with
    ``key`` (and ``step``), at ``images/<key>/step_<step>_<timestamp>.png``."""
    if (artifact_file is None) == (key is None):
        raise ValidationError("log_image needs exactly one of artifact_file or key")
    if key is not None:
        v.check_key(key, "image key")
        artifact_file = f"images/{key}/step_{step or 0}_{timestamp or now_ms()}.png"
    assert artifact_file is not None
    _fluent.get_client().log_bytes(_fluent._run_id(), _png(image), artifact_file)


def get_parent_run(run_id: str) -> Run | None:
    """The run ``run_id`` is nested in, or None for a top-level run."""
    client = _fluent.get_client()
    parent = client.get_run(run_id).info.parent_run_id
    return None if parent is None else client.get_run(parent)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the current experiment."""
    for key, value in tags.items():
        _fluent.set_experiment_tag(key, value)


def set_registry_uri(uri: str | os.PathLike[str]) -> None:
    """modelyard keeps the registry in the tracking store: a registry URI that names the same
    store is accepted; another one is refused, naming ``set_tracking_uri``."""
    wanted = resolve(str(uri)).metadata_url
    current = resolve(_fluent.get_tracking_uri()).metadata_url
    if wanted != current:
        raise NotSupportedError(
            f"set_registry_uri({str(uri)[:200]!r}): modelyard keeps the model registry in the "
            f"tracking store ({_fluent.get_tracking_uri()[:200]!r}), not in a store of its own; "
            "call set_tracking_uri(...) with that URI to use it for both"
        )


def get_registry_uri() -> str:
    """The registry's URI: the tracking URI (one store holds both)."""
    return _fluent.get_tracking_uri()
