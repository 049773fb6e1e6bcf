"""Batch scoring on Spark: a registered model as a pandas UDF (what MLflow's ``spark_udf`` is),
with the bundle verified where it is loaded.

    from modelyard.spark import score_udf
    predict = score_udf(spark, "models:/credit@champion")
    scored = frame.withColumn("prediction", predict(*predict.input_columns))

The alias is resolved once, on the driver: every executor scores the same version even if the
alias moves during the job. Each executor's Python worker loads that version through the
registry, which checks every file of the bundle against its registered hash before anything is
unpickled, and keeps it for the worker's next batches (one model per worker process).
``pyspark`` comes with the ``spark`` extra; the executors need modelyard installed and the
tracking URI reachable (a shared store, or the team server).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from modelyard.core.errors import ValidationError
from modelyard.core.extras import require
from modelyard.core.signature import Signature
from modelyard.registry import Client
from modelyard.serving._batch import _score_table
from modelyard.serving._spark import worker_model


def _predict(
    tracking_uri: str, uri: str, names: list[str], output: str, columns: tuple[pd.Series, ...]
) -> pd.Series:
    frame = pd.concat([c.reset_index(drop=True) for c in columns], axis=1)
    frame.columns = names
    # what `modelyard score` writes: the prediction (a classifier's arg-max label) and, for a
    # binary classifier, the positive class's probability as the score
    table = pa.Table.from_pandas(frame, preserve_index=False)
    scored = _score_table(worker_model(tracking_uri, uri), table)
    if output not in scored:
        raise ValidationError(
            f"{uri} gives no {output!r} (a score is a binary classifier's positive-class probability)"
        )
    return pd.Series(np.asarray(scored[output]))


def score_udf(
    spark: Any,
    model_uri: str,
    *,
    tracking_uri: str | None = None,
    result_type: str = "double",
    columns: list[str] | None = None,
    output: Literal["prediction", "score"] = "prediction",
) -> Any:
    """A pandas UDF that scores rows with the model at ``model_uri`` (``models:/name/3`` or
    ``models:/name@alias``) as ``modelyard score`` does: ``output="prediction"`` gives the
    prediction (a classifier's label), ``"score"`` a binary classifier's positive-class
    probability. Call it with the model's input columns in signature order (its
    ``input_columns`` attribute names them); ``result_type`` is the Spark type of the result
    (``"string"`` for text labels)."""
    functions = require("pyspark.sql.functions", "Scoring on Spark")
    if not str(model_uri).startswith("models:"):
        raise ValidationError(
            "model_uri must be a registered model (models:/name/3 or models:/name@alias), "
            f"got {model_uri!r}"
        )
    if output not in ("prediction", "score"):
        raise ValidationError(f"output must be 'prediction' or 'score', got {output!r}")
    client = Client(tracking_uri)
    version = client.resolve(model_uri)
    pinned = f"models:/{version.name}/{version.version}"
    client.load_model(pinned)  # verified on the driver first: a bad bundle fails before the job
    names = columns or (
        Signature.from_dict(version.signature).input_names if version.signature else []
    )
    if not names:
        raise ValidationError(
            f"{pinned} records no input signature; pass columns=[...] in the model's order"
        )
    store_uri = client.tracking_uri

    def predict(*series: pd.Series) -> pd.Series:
        return _predict(store_uri, pinned, names, output, series)

    udf = functions.pandas_udf(predict, result_type)
    udf.input_columns = list(names)
    udf.model_uri = pinned
    del spark  # the session the UDF will run in; kept in the signature as MLflow's spark_udf
    return udf
