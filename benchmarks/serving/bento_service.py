"""The BentoML peer: the same pickle, an endpoint taking JSON records, 2 workers.

    BC_PICKLE=... BC_META=... bentoml serve bento_service:BreastCancer --port P
Request: POST /predict {"records": [{col: value, ...}]} -> {"predictions": [...]}
"""

import json
import os
import pickle
import warnings

import bentoml
import numpy as np


@bentoml.service(workers=2, traffic={"timeout": 30})
class BreastCancer:
    def __init__(self) -> None:
        with open(os.environ["BC_PICKLE"], "rb") as f:
            self.model = pickle.load(f)
        with open(os.environ["BC_META"]) as f:
            self.columns = json.load(f)["columns"]
        # the array is in the fitted column order: no per-request "no feature names" warning
        warnings.filterwarnings("ignore", message="X does not have valid feature names")

    @bentoml.api
    def predict(self, records: list[dict[str, float]]) -> dict:
        x = np.array([[r[c] for c in self.columns] for r in records], dtype=np.float64)
        return {"predictions": self.model.predict(x).tolist()}
