"""HTTP load generator for the feature servers (run in its own process by run.py).

    python _loadgen.py URL --data DATA_DIR [--concurrency 8] [--duration 15] [--warmup 2]

CONCURRENCY keep-alive HTTP/1.1 connections (asyncio, uvloop when available, raw sockets so
the client stays cheap), each sending one request at a time: POST /get-online-features for
10 features of one random driver. Prints one JSON line: requests/s, p50/p99, errors.
Latencies of the first WARMUP seconds are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C


def body_for(driver: int) -> bytes:
    return json.dumps({"features": C.FEATURE_REFS,
                       "entities": {C.JOIN_KEY: [driver]}}).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(data[:-2])
        return status, b"".join(chunks)
    return status, await reader.read()


async def worker(host: str, port: int, path: str, ids: list[int], t_start: float,
                 t_measure: float, t_end: float, lat: list[float], counts: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    while time.perf_counter() < t_end:
        body = body_for(ids[i % len(ids)])
        i += 1
        req = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode() + body
        t = time.perf_counter()
        try:
            writer.write(req)
            status, _ = await read_response(reader)
            ok = status == 200
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            ok = False
            counts.setdefault("error_kinds", {}).setdefault(type(exc).__name__, 0)
            counts["error_kinds"][type(exc).__name__] += 1
            writer.close()
            try:
                reader, writer = await asyncio.open_connection(host, port)
                counts["reconnects"] += 1
            except OSError:
                await asyncio.sleep(0.05)
        else:
            if not ok:
                counts.setdefault("error_kinds", {}).setdefault(f"HTTP {status}", 0)
                counts["error_kinds"][f"HTTP {status}"] += 1
        done = time.perf_counter()
        if t >= t_measure:
            if ok:
                lat.append(done - t)
                counts["ok"] += 1
            else:
                counts["errors"] += 1
    writer.close()


async def main_async(args) -> dict:
    u = urlsplit(args.url)
    with open(C.data_paths(args.data)["online_expect"]) as f:
        expect = json.load(f)
    ids = C.lookup_ids(50_000, 11, expect)
    lat: list[float] = []
    counts = {"ok": 0, "errors": 0, "reconnects": 0}
    t0 = time.perf_counter()
    t_measure = t0 + args.warmup
    t_end = t_measure + args.duration
    per = len(ids) // args.concurrency
    await asyncio.gather(*[
        worker(u.hostname, u.port, u.path, ids[k * per:(k + 1) * per], t0, t_measure, t_end,
               lat, counts) for k in range(args.concurrency)])
    lat.sort()
    n = counts["ok"]
    return {"concurrency": args.concurrency, "duration_s": args.duration, "requests_ok": n,
            "errors": counts["errors"], "reconnects": counts["reconnects"],
            "error_kinds": counts.get("error_kinds", {}),
            "requests_per_s": round(n / args.duration, 1),
            "p50_ms": round(C.percentile(lat, 50) * 1e3, 3),
            "p99_ms": round(C.percentile(lat, 99) * 1e3, 3),
            "max_ms": round(lat[-1] * 1e3, 3) if lat else None}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--data", required=True)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    a = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    C.emit(asyncio.run(main_async(a)))
