"""Prometheus metrics of the scoring server, with conventional names and units.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``modelyard serve``)
makes every worker write its samples to shared files and ``/metrics`` sum them.
"""

from __future__ import annotations

import os

from modelyard.core.extras import missing

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        disable_created_metrics,
        generate_latest,
    )
except ImportError as error:  # a plain install: the scoring server is the serve extra
    raise missing("prometheus_client", "The scoring server's metrics") from error

_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only add noise to a scrape
        # one registry per app, so that several apps in one process (tests) do not collide
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "modelyard_requests",
            "Scoring requests by endpoint, route, model version and HTTP status.",
            ["endpoint", "route", "version", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "modelyard_request_duration_seconds",
            "Time to answer a scoring request, from body read to response.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.rows = Counter(
            "modelyard_scored_rows", "Rows scored, by endpoint.", ["endpoint"], registry=reg
        )
        gauge_mode = {"multiprocess_mode": "max"} if _multiprocess() else {}
        self.load_seconds = Gauge(
            "modelyard_model_load_seconds",
            "Time to fetch, verify, load and warm the model version a route serves.",
            ["endpoint", "route", "version"],
            registry=reg,
            **gauge_mode,  # type: ignore[arg-type]
        )
        self.swaps = Counter(
            "modelyard_model_swaps",
            "Hot swaps: a route moved to a new model version while serving.",
            ["endpoint", "route"],
            registry=reg,
        )
        depth_mode = {"multiprocess_mode": "livesum"} if _multiprocess() else {}
        self.log_depth = Gauge(
            "modelyard_prediction_log_queue_depth",
            "Requests waiting to be written to the prediction log.",
            registry=reg,
            **depth_mode,  # type: ignore[arg-type]
        )
        self.log_dropped = Counter(
            "modelyard_prediction_log_dropped",
            "Requests and feedback not logged, by reason: queue_full, queue_bytes, write_failed, bad_batch.",
            ["reason"],
            registry=reg,
        )
        self.batch_rows = Histogram(
            "modelyard_batch_rows",
            "Rows per model call of an endpoint with batching on (1: a request scored alone).",
            ["endpoint"],
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        self.errors = Counter(
            "modelyard_model_errors",
            "Exceptions raised inside a model while scoring.",
            ["endpoint", "route"],
            registry=reg,
        )

    def render(self) -> bytes:
        if _multiprocess():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
