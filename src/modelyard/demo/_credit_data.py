"""The demo's world: credit applications, week after week, that change mid-way.

Applicants have an income, a debt ratio, an age, open loans and years of credit history;
whether they default follows a logistic risk of those. From ``shift_week`` on, incomes fall
and debt ratios rise (the inputs drift), and the risk itself changes: open loans come to
matter the other way round and debt matters less (the concept drifts), so a model trained
before the shift ranks applicants worse after it. Everything is generated; nothing is
downloaded.
"""

from __future__ import annotations

import datetime as _dt
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["income", "debt_ratio", "age", "open_loans", "credit_years"]
TARGET = "default"

REPO = textwrap.dedent(
    """
    # The demo's feature repository (written by `modelyard demo`).
    from modelyard.features import Entity, FeatureService, FeatureView, Field, FileSource, Float64

    applicant = Entity(name="applicant", join_keys=["applicant_id"])

    applications = FeatureView(
        name="applications",
        entities=[applicant],  # no TTL: what an applicant declared does not go stale
        schema=[
            Field(name="income", dtype=Float64),
            Field(name="debt_ratio", dtype=Float64),
            Field(name="age", dtype=Float64),
            Field(name="open_loans", dtype=Float64),
            Field(name="credit_years", dtype=Float64),
        ],
        source=FileSource(path="data/applications", timestamp_field="event_time"),
        owner="credit-risk",
        description="What an applicant declared, as of their application",
    )

    credit_v1 = FeatureService(name="credit_v1", features=[applications])
    """
)


def week_start(origin: _dt.datetime, week: int) -> _dt.datetime:
    return origin + _dt.timedelta(weeks=week)


def default_origin(today: _dt.date, weeks: int) -> _dt.datetime:
    """Where the demo's timeline starts when none is given: ``weeks`` whole weeks (Monday to
    Monday, UTC) that end on the Monday of ``today``'s week — the same all week long."""
    monday = today - _dt.timedelta(days=today.weekday())
    return _dt.datetime.combine(monday, _dt.time(0, 0), tzinfo=_dt.UTC) - _dt.timedelta(weeks=weeks)


def applications(week: int, rows: int, *, shifted: bool, origin: _dt.datetime, seed: int = 0) -> pd.DataFrame:
    """One week of applications with their (eventual) outcome."""
    rng = np.random.default_rng(seed * 1000 + week)
    income = rng.lognormal(np.log(42.0), 0.35, rows) * (0.72 if shifted else 1.0)
    debt = rng.beta(3.2, 4.5, rows) if shifted else rng.beta(2.0, 5.0, rows)
    age = rng.integers(21, 76, rows).astype("float64")
    loans = rng.poisson(2.0, rows).astype("float64")
    years = np.clip(age - 20 - rng.exponential(4.0, rows), 0, None).round(1)
    if shifted:
        risk = -0.6 + 2.5 * (debt - 0.4) - 0.6 * np.log(income / 30) - 1.0 * (loans - 2) + 0.09 * (30 - np.minimum(age, 30))
    else:
        risk = -1.4 + 5.0 * (debt - 0.3) - 1.0 * np.log(income / 42) + 0.35 * (loans - 2) - 0.04 * (years - 10)
    default = (rng.uniform(size=rows) < 1 / (1 + np.exp(-risk))).astype("int64")
    start = week_start(origin, week)
    offsets = np.sort(rng.uniform(0, 7 * 24 * 3600 - 1, rows))
    return pd.DataFrame(
        {
            "applicant_id": (week + 1) * 1_000_000 + np.arange(rows, dtype="int64"),
            "event_time": pd.to_datetime([start + _dt.timedelta(seconds=float(s)) for s in offsets], utc=True),
            "income": income.round(2),
            "debt_ratio": debt.round(4),
            "age": age,
            "open_loans": loans,
            "credit_years": years,
            TARGET: default,
        }
    )


def credit_applications(rows: int = 2000, *, seed: int = 0) -> pd.DataFrame:
    """Generated credit applications with their outcome (``default``), as the demo makes
    them before its world shifts: for trying the snippets of the README on data at hand."""
    origin = _dt.datetime(2026, 1, 5, tzinfo=_dt.UTC)
    return applications(0, rows, shifted=False, origin=origin, seed=seed).drop(columns=["event_time"])


def write_week(repo: Path, week: int, frame: pd.DataFrame) -> None:
    """The week's applications land in the feature source (the outcome is kept apart)."""
    folder = repo / "data" / "applications"
    folder.mkdir(parents=True, exist_ok=True)
    frame.drop(columns=[TARGET]).to_parquet(folder / f"week-{week:02d}.parquet", index=False)


def entity_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows for a training set: who, when (just after applying), and the outcome."""
    return pd.DataFrame(
        {
            "applicant_id": frame["applicant_id"].to_numpy(),
            "event_timestamp": frame["event_time"] + pd.Timedelta(seconds=1),
            TARGET: frame[TARGET].to_numpy(),
        }
    )
