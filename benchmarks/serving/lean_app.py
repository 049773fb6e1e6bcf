"""The lean reference server: parse JSON records, build the array, model.predict. Nothing else.

    BC_PICKLE=... BC_META=... uvicorn lean_app:app --workers 2 --loop uvloop --http httptools
"""

import json
import os
import pickle
import warnings

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

with open(os.environ["BC_PICKLE"], "rb") as f:
    MODEL = pickle.load(f)
with open(os.environ["BC_META"]) as meta:
    COLUMNS = json.load(meta)["columns"]  # the model's column order
# the array is in the fitted column order; don't print sklearn's "no feature names" warning
# on every request (modelyard's server filters the same warning)
warnings.filterwarnings("ignore", message="X does not have valid feature names")


async def predict(request):
    records = orjson.loads(await request.body())["records"]
    x = np.array([[r[c] for c in COLUMNS] for r in records], dtype=np.float64)
    return Response(orjson.dumps({"predictions": MODEL.predict(x)}, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
