"""Save the benchmark's pickled model as an MLflow model folder (run in the MLflow venv).

    python prepare_mlflow.py WORK
"""

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C
import mlflow.sklearn
import pandas as pd

work = Path(sys.argv[1]).resolve()
model = pickle.loads((work / C.PICKLE).read_bytes())
meta = C.load_meta(work)
example = pd.DataFrame([meta["row"]], columns=meta["columns"])
dest = work / C.MLFLOW_MODEL
shutil.rmtree(dest, ignore_errors=True)
mlflow.sklearn.save_model(model, str(dest), input_example=example,
                          serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
print(json.dumps({"ok": True, "folder": str(dest), "mlflow": mlflow.__version__}))
