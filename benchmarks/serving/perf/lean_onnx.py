"""The lean ONNX floor: parse JSON records, build the float32 array, one onnxruntime run
(one intra-op thread), labels and probabilities back. Nothing else.

    LEAN_ONNX=bc.onnx LEAN_COLUMNS='["mean radius", ...]' uvicorn lean_onnx:app --workers 2 \
        --loop uvloop --http httptools
"""

import json
import os

import numpy as np
import onnxruntime as ort
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

_OPTIONS = ort.SessionOptions()
_OPTIONS.intra_op_num_threads = 1
SESSION = ort.InferenceSession(
    os.environ["LEAN_ONNX"], sess_options=_OPTIONS, providers=["CPUExecutionProvider"]
)
FEED = SESSION.get_inputs()[0].name
OUTPUTS = [o.name for o in SESSION.get_outputs()][:2]
COLUMNS = json.loads(os.environ["LEAN_COLUMNS"])


async def predict(request):  # type: ignore[no-untyped-def]
    records = orjson.loads(await request.body())["records"]
    x = np.array([[r[c] for c in COLUMNS] for r in records], dtype=np.float32)
    labels, proba = SESSION.run(OUTPUTS, {FEED: x})
    return Response(
        orjson.dumps(
            {"predictions": labels, "probabilities": proba}, option=orjson.OPT_SERIALIZE_NUMPY
        ),
        media_type="application/json",
    )


app = Starlette(routes=[Route("/v1/endpoints/bc/predict", predict, methods=["POST"])])
