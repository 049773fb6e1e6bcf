"""Baseline batch scorer: a plain pandas chunk loop in one process.

    python batch_pandas.py MODEL_PICKLE INPUT.parquet OUTPUT.parquet [CHUNK_ROWS]

pyarrow iter_batches -> to_pandas -> model.predict_proba -> the input columns plus
`prediction` and `score` (what `modelyard score` writes) -> ParquetWriter.
Prints one JSON line: rows, seconds, rows_per_second.
"""

import json
import pickle
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

t0 = time.perf_counter()
model_path, src, dst = sys.argv[1:4]
chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 200_000
with open(model_path, "rb") as f:
    model = pickle.load(f)
classes = np.asarray(model.classes_)
reader = pq.ParquetFile(src)
writer = None
rows = 0
for batch in reader.iter_batches(batch_size=chunk):
    frame = batch.to_pandas()
    proba = model.predict_proba(frame)
    table = pa.Table.from_batches([batch])
    table = table.append_column("prediction", pa.array(classes[proba.argmax(axis=1)]))
    table = table.append_column("score", pa.array(proba[:, 1]))
    if writer is None:
        writer = pq.ParquetWriter(dst, table.schema)
    writer.write_table(table)
    rows += batch.num_rows
if writer is not None:
    writer.close()
secs = time.perf_counter() - t0
print(json.dumps({"rows": rows, "seconds": round(secs, 3), "rows_per_second": round(rows / secs)}))
