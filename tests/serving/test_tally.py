"""The per-worker metric tally adds to Prometheus exactly what per-request updates would."""

from __future__ import annotations

from prometheus_client import generate_latest

from modelyard.serving._metrics import Metrics
from modelyard.serving._tally import Tally


def _scrape(metrics: Metrics) -> str:
    return bytes(generate_latest(metrics.registry)).decode()


def _samples(metrics: Metrics) -> dict[str, float]:
    """Series -> value, sums rounded (the tally adds latencies in another order)."""
    lines = [
        line.rsplit(" ", 1) for line in _scrape(metrics).splitlines() if not line.startswith("#")
    ]
    return {name: round(float(value), 9) for name, value in lines}


def test_tally_matches_per_request_updates() -> None:
    direct, tallied = Metrics(), Metrics()
    tally = Tally(tallied, max_pending=7)  # some requests flush on the way, the rest at the end
    samples = [
        (("bc", "champion", "1"), s, r)
        for s, r in [(0.0004, 1), (0.0005, 2), (0.003, 1), (3.0, 5)] * 5
    ]
    samples += [(("bc", "challenger", "2"), 0.02, 1)] * 3
    for key, seconds, rows in samples:
        direct.requests.labels(*key, "200").inc()
        direct.latency.labels(key[0]).observe(seconds)
        direct.rows.labels(key[0]).inc(rows)
        tally.add(key, seconds, rows)
    assert _samples(tallied) != _samples(direct)  # 23 requests, 7 per flush: 2 still pending
    tally.flush()
    assert _samples(tallied) == _samples(direct)


def test_background_flush_and_close() -> None:
    metrics = Metrics()
    tally = Tally(metrics, flush_seconds=0.01)
    tally.start()
    tally.add(("bc", "champion", "1"), 0.001, 4)
    tally.close()  # stops the thread and flushes what is left
    assert 'modelyard_scored_rows_total{endpoint="bc"} 4.0' in _scrape(metrics)
