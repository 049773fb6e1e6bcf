"""One monitoring pass over a window of an endpoint's prediction log.

Reference: given explicitly (rows, a Parquet file, or a profile), else the profile of the
training dataset recorded in the served model version's lineage. The window's live rows
(not shadows) are compared with it for drift and data quality; labelled rows (feedback)
give performance per model version and route, shadows included, so routes are compared on
the same traffic; the requests give latency, error rates and throughput. Results are stored
per window as time series in the metadata store.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.validation import parse_duration
from modelyard.data._compact import compact as compact_log
from modelyard.data._predlog import INPUT_PREFIX
from modelyard.data._reference import reference as build_reference
from modelyard.monitoring._drift import ColumnDrift, DriftOptions, DriftReport, detect_drift
from modelyard.monitoring._measures import performance, quality, technical
from modelyard.monitoring._profiles import (
    drift_from_profile,
    quality_from_profile,
    reference_columns,
    reference_from_sketch,
    update_profiles,
    window_profile,
)
from modelyard.monitoring._sketch import NumericSketch
from modelyard.monitoring._window import (
    first_timestamp,
    known_request_ids,
    load_feedback,
    load_requests,
    with_labels,
)
from modelyard.registry import Client
from modelyard.store._monitor_store import MetricPoint


def parse_window(text: str) -> _dt.timedelta:
    """``90s``, ``30m``, ``6h``, ``1d``, ``2w`` as a timedelta."""
    return parse_duration(text, "window")


@dataclass
class WindowResult:
    endpoint: str
    start: _dt.datetime
    end: _dt.datetime
    rows: int
    drift: DriftReport | None = None
    prediction_drift: ColumnDrift | None = None
    target_drift: ColumnDrift | None = None
    quality: dict[str, dict[str, float]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    performance: list[dict[str, Any]] = field(default_factory=list)
    technical: dict[str, float] = field(default_factory=dict)
    feedback_unmatched: int = 0
    reference_source: str = ""

    @property
    def overall(self) -> dict[str, float]:
        """The window's headline numbers, as alert rules see them."""
        values: dict[str, float] = {"rows": float(self.rows), **self.technical}
        if self.drift is not None:
            values["drift_share"] = self.drift.drift_share
            values["dataset_drift"] = float(self.drift.drifted)
        if self.prediction_drift is not None and self.prediction_drift.statistic is not None:
            values["prediction_drift"] = float(bool(self.prediction_drift.drifted))
        live = [p for p in self.performance if p.get("route") == "*"]
        if live:
            values.update({k: v for k, v in live[0].items() if isinstance(v, float)})
        values["feedback_unmatched"] = float(self.feedback_unmatched)
        return values

    def points(self) -> list[MetricPoint]:
        start, end = _epoch_ms(self.start), _epoch_ms(self.end)
        out: list[MetricPoint] = []

        def add(name: str, value: float | None, column: str = "", version: str = "", route: str = "") -> None:
            out.append(MetricPoint(self.endpoint, start, end, name, column, version, route, None if value is None else float(value)))

        for name, value in self.overall.items():
            add(name, value)
        if self.drift is not None:
            for c in self.drift.columns:
                add("column_drifted", None if c.drifted is None else float(c.drifted), c.column)
                add("column_statistic", c.statistic, c.column)
                add("column_p_value", c.p_value, c.column)
                add("column_threshold", c.threshold, c.column)  # what the verdict compared with
                add("column_psi", c.psi, c.column)
                add("column_js", c.js, c.column)
                add("column_wasserstein", c.wasserstein, c.column)
        for column, stats in self.quality.items():
            for key, value in stats.items():
                add(key, value, column)
        for perf in self.performance:
            for key, value in perf.items():
                if isinstance(value, float) and perf.get("route") != "*":
                    add(key, value, "", str(perf.get("version", "")), str(perf.get("route", "")))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "overall": self.overall,
            "drift": self.drift.to_dict() if self.drift else None,
            "prediction_drift": self.prediction_drift.to_dict() if self.prediction_drift else None,
            "target_drift": self.target_drift.to_dict() if self.target_drift else None,
            "quality": self.quality,
            "findings": self.findings,
            "performance": self.performance,
            "technical": self.technical,
            "feedback_unmatched": self.feedback_unmatched,
            "reference": self.reference_source,
        }


def _epoch_ms(value: _dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _as_utc(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


class Monitor:
    """Watches one endpoint's prediction log."""

    def __init__(
        self,
        endpoint: str,
        *,
        reference: pd.DataFrame | dict[str, Any] | str | None = None,
        columns: list[str] | None = None,
        tracking_uri: str | None = None,
        log_root: str | Path | None = None,
        options: DriftOptions | None = None,
        target: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.client = Client(tracking_uri)
        self.log_root = log_root
        self.options = options or DriftOptions()
        self.columns = columns
        self.target = target
        self._reference, self._reference_source = self._explicit_reference(reference)

    # -- the reference -----------------------------------------------------------------

    def _explicit_reference(self, given: Any) -> tuple[dict[str, dict[str, Any]] | None, str]:
        if given is None:
            return None, ""
        if isinstance(given, pd.DataFrame):
            return build_reference(given), "rows given"
        if isinstance(given, dict):
            ref = given.get("reference", given)
            if not all(isinstance(v, dict) and "kind" in v for v in ref.values()):
                raise ValidationError("a reference profile maps columns to {'kind': ..., ...} (a dataset profile's 'reference')")
            return ref, "profile given"
        path = Path(str(given))
        if not path.exists():
            raise ValidationError(f"reference {given} does not exist (give a Parquet file, a DataFrame or a profile)")
        return build_reference(pd.read_parquet(path)), str(path)

    def _lineage_reference(self, model: str, version: str) -> tuple[dict[str, dict[str, Any]], str]:
        try:
            mv = self.client.get_model_version(model, version)
        except (NotFoundError, ValidationError) as error:
            raise ValidationError(
                f"no reference given and model {model!r} version {version!r} from the log is not in the registry ({error})"
            ) from None
        datasets = (mv.lineage or {}).get("datasets") or []
        if not datasets:
            raise ValidationError(
                f"{mv.uri} records no training dataset in its lineage; give a reference "
                "(--reference data.parquet), or log the training set with log_input before registering"
            )
        chosen = next((d for d in datasets if str(d.get("context", "")).startswith("train")), datasets[0])
        dataset = self.client.store.get_dataset_version(chosen["name"], chosen["digest"])
        ref = (dataset.profile or {}).get("reference")
        if not ref:
            raise ValidationError(
                f"dataset {chosen['name']} ({chosen['digest'][:12]}) has no drift reference in its profile; "
                "log it again with this modelyard version, or give --reference"
            )
        if self.target is None:
            self.target = (dataset.profile or {}).get("targets")
        return ref, f"datasets:/{chosen['name']}/{chosen['digest'][:12]} (training set of {mv.uri})"

    # -- a pass ------------------------------------------------------------------------------

    def run(
        self,
        window: _dt.timedelta | str = "1d",
        *,
        end: _dt.datetime | None = None,
        start: _dt.datetime | None = None,
        store: bool = True,
        profiles: bool = False,
        compact: bool = False,
    ) -> WindowResult:
        """One window's results. ``profiles=True`` reads only the log files not profiled
        before and computes drift, data quality and prediction drift from merged sketches
        (any window size, bounded memory); labels, latency and errors need the rows
        (``profiles=False``, the default). ``compact=True`` (with profiles) then compacts the
        log's days before the window's end, once their files are profiled."""
        span = parse_window(window) if isinstance(window, str) else window
        end = _as_utc(end) if end is not None else _dt.datetime.now(_dt.UTC)
        start = _as_utc(start) if start is not None else end - span
        if start >= end:
            raise ValidationError(f"window start {start.isoformat()} is not before its end {end.isoformat()}")
        if compact and not profiles:
            raise ValidationError("compact=True needs profiles=True (the files are profiled before they are compacted)")
        if profiles:
            result = self._run_profiles(span, start, end, compact)
            if store:
                self.client.store.monitoring.record(self.endpoint, _epoch_ms(start), _epoch_ms(end), result.points())
            return result
        requests = load_requests(self.endpoint, start, end, self.log_root)
        result = WindowResult(self.endpoint, start, end, 0)
        if requests.empty:
            result.findings.append("no traffic in this window")
            result.technical = {"requests": 0.0}
            if store:
                self.client.store.monitoring.record(self.endpoint, _epoch_ms(start), _epoch_ms(end), result.points())
            return result
        result.technical = technical(requests[~requests["shadow"]], (end - start).total_seconds())
        scored = requests[requests["status"] == 200]
        live = scored[~scored["shadow"]]
        result.rows = len(live)
        inputs = [c for c in live.columns if c.startswith(INPUT_PREFIX) and live[c].notna().any()]
        current = live[inputs].rename(columns=lambda c: c[len(INPUT_PREFIX) :])
        reference, source = self._reference, self._reference_source
        if reference is None and not live.empty:
            top = live.groupby(["model", "version"]).size().sort_values().index[-1]
            reference, source = self._lineage_reference(str(top[0]), str(top[1]))
        result.reference_source = source
        if reference is not None and not live.empty:
            wanted = self.columns or [c for c in current.columns if c in reference]
            untested = [c for c in current.columns if c not in reference]
            if untested and self.columns is None:
                result.findings.append(f"not in the reference, not tested: {', '.join(map(repr, untested[:8]))}")
            result.drift = detect_drift(reference, current, columns=wanted, options=self.options)
            result.quality, findings = quality(current, reference, wanted)
            result.findings.extend(findings)
        # labels: feedback joined by request id or entity key
        feedback = load_feedback(self.log_root)
        labelled = with_labels(scored, feedback)
        if not feedback.empty:
            arrived = feedback[(feedback["timestamp"] >= pd.Timestamp(start)) & (feedback["timestamp"] < pd.Timestamp(end))]
            ids = arrived["request_id"].dropna()
            if not ids.empty:
                known = known_request_ids(self.endpoint, end, self.log_root)
                result.feedback_unmatched = int((~ids.isin(known)).sum())
        groups = []
        for (version, route, shadow), part in labelled.groupby(["version", "route", "shadow"]):
            service = technical(part, (end - start).total_seconds())
            latency = {k: v for k, v in service.items() if k.endswith("latency_ms")}
            groups.append({"version": str(version), "route": str(route), "shadow": bool(shadow), "rows": float(len(part)), **performance(part), **latency})
        live_labelled = labelled[~labelled["shadow"]]
        groups.append({"version": "*", "route": "*", "shadow": False, "rows": float(len(live_labelled)), **performance(live_labelled)})
        result.performance = groups
        # prediction drift: this window's scores against the log's first window of the same span
        first = first_timestamp(self.endpoint, self.log_root)
        score_column = "score" if live["score"].notna().any() else "prediction"
        if first is not None and first + span <= start:
            baseline = load_requests(self.endpoint, first, first + span, self.log_root)
            base_live = baseline[(baseline["status"] == 200) & (~baseline["shadow"])] if not baseline.empty else baseline
            if not base_live.empty and base_live[score_column].notna().any():
                ref = build_reference(base_live[[score_column]])
                result.prediction_drift = detect_drift(ref, live[[score_column]], options=self.options).columns[0]
        if self.target and reference is not None and self.target in reference and live_labelled["label"].notna().sum():
            target_ref = {"label": reference[self.target]}
            labels = live_labelled[["label"]].dropna()
            if reference[self.target].get("kind") == "categorical":
                labels = labels.assign(label=labels["label"].map(lambda v: str(int(v)) if float(v).is_integer() else str(v)))
            result.target_drift = detect_drift(target_ref, labels, options=self.options).columns[0]
        if store:
            self.client.store.monitoring.record(self.endpoint, _epoch_ms(start), _epoch_ms(end), result.points())
        return result

    def _run_profiles(
        self, span: _dt.timedelta, start: _dt.datetime, end: _dt.datetime, compact: bool = False
    ) -> WindowResult:
        profiles = self.client.store.profiles
        done = update_profiles(profiles, self.endpoint, self.log_root)
        if compact:
            compact_log(self.endpoint, root=self.log_root, before=end.astimezone(_dt.UTC).date())
        current = window_profile(profiles, self.endpoint, start, end, self.log_root)
        result = WindowResult(self.endpoint, start, end, current.rows)
        result.findings.append(
            f"from profiles: {done.files_read} new log file(s) read of {done.files_listed}; "
            "labels, latency and errors are measured on rows (profiles=False)"
        )
        if current.rows == 0:
            result.findings.append("no traffic in this window")
            return result
        reference, source = self._reference, self._reference_source
        if reference is None:
            top = max(current.versions, key=lambda k: current.versions[k])
            model, version = top.split("\x00", 1)
            reference, source = self._lineage_reference(model, version)
        result.reference_source = source
        present = reference_columns(current)
        wanted = self.columns or [c for c in present if c in reference]
        untested = [c for c in present if c not in reference]
        if untested and self.columns is None:
            result.findings.append(
                f"not in the reference, not tested: {', '.join(map(repr, untested[:8]))}"
            )
        result.drift = drift_from_profile(reference, current, columns=wanted, options=self.options)
        result.quality, findings = quality_from_profile(current, reference, wanted)
        result.findings.extend(findings)
        first = first_timestamp(self.endpoint, self.log_root)
        if first is not None and first + span <= start:
            baseline = window_profile(profiles, self.endpoint, first, first + span, self.log_root)
            for name in ("score", "prediction"):
                base, now = baseline.sketch(name, "numeric"), current.sketch(name, "numeric")
                if (
                    isinstance(base, NumericSketch)
                    and isinstance(now, NumericSketch)
                    and base.count
                    and now.count
                ):
                    ref = {name: reference_from_sketch(base)}
                    result.prediction_drift = drift_from_profile(
                        ref, current, columns=[name], options=self.options
                    ).columns[0]
                    break
        return result
