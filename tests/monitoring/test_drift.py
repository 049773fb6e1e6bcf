"""Drift tests: the known-truth properties the defaults promise, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.core.errors import ValidationError
from modelyard.data._reference import reference
from modelyard.monitoring import DriftOptions, detect_drift

P0 = np.array([0.30, 0.25, 0.20, 0.15, 0.10])
P1 = np.array([0.24, 0.25, 0.20, 0.17, 0.14])  # a subtle frequency change (JS distance ~0.06)


def _frame(n: int, rng: np.random.Generator, drift: bool) -> pd.DataFrame:
    data = {f"n{i}": rng.normal(0, 1, n) for i in range(8)}
    if drift:
        data["n0"] = data["n0"] + 0.1  # a 0.1-standard-deviation mean shift
    data["c0"] = rng.choice(list("abcde"), n, p=P1 if drift else P0)
    data["c1"] = rng.choice(list("abcde"), n, p=P0)
    return pd.DataFrame(data)


def test_finds_subtle_drift_at_100k_without_false_alarms() -> None:
    for seed in range(2):
        rng = np.random.default_rng(seed)
        report = detect_drift(reference(_frame(100_000, rng, False)), _frame(100_000, rng, True))
        assert sorted(report.drifted_columns) == ["c0", "n0"], report.to_dict()
        assert report.drift_share == pytest.approx(0.2)
        assert not report.drifted  # 2 of 10 columns is below the 0.5 dataset threshold
        js = report.column("c0").js
        assert js is not None and 0.04 < js < 0.08


def test_few_false_alarms_on_small_unchanged_samples() -> None:
    alarms = columns = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        report = detect_drift(_frame(1000, rng, False), _frame(1000, rng, False))
        alarms += len(report.drifted_columns)
        columns += len(report.columns)
    assert alarms / columns <= 0.05


def test_raw_rows_and_stored_profile_agree() -> None:
    rng = np.random.default_rng(7)
    ref, cur = _frame(20_000, rng, False), _frame(20_000, rng, True)
    from_rows = detect_drift(ref, cur).to_dict()
    from_profile = detect_drift(reference(ref), cur).to_dict()
    assert from_rows == from_profile


def test_other_tests_and_bad_input() -> None:
    rng = np.random.default_rng(3)
    ref, cur = _frame(5000, rng, False), _frame(5000, rng, True)
    cur["n1"] = cur["n1"] * 3  # a big change that any test sees
    psi = detect_drift(ref, cur, options=DriftOptions(numeric_test="psi", categorical_test="js"))
    assert psi.column("n1").test == "psi" and psi.column("n1").drifted
    assert psi.column("c0").test == "js"
    per = detect_drift(ref, cur, options=DriftOptions(per_column={"n1": "wasserstein"}))
    assert per.column("n1").test == "wasserstein" and per.column("n0").test == "ks"
    with pytest.raises(ValidationError, match="reference has no column 'extra'"):
        detect_drift(ref, cur.assign(extra=1.0), columns=["n0", "extra"])
    with pytest.raises(ValidationError, match="current data has no column 'n3'"):
        detect_drift(ref, cur.drop(columns=["n3"]), columns=["n3"])
    with pytest.raises(ValidationError, match="numeric_test"):
        DriftOptions(numeric_test="chi2")
    with pytest.raises(ValidationError, match="is categorical"):
        detect_drift(ref, cur, options=DriftOptions(per_column={"c0": "ks"}))
    # an all-null column gets no verdict, not a crash; a column that became text is named
    nulls = detect_drift(ref, cur.assign(n2=np.nan))
    assert nulls.column("n2").drifted is None and "too few" in nulls.column("n2").note
    with pytest.raises(ValidationError, match="'n2' is numeric in the reference"):
        detect_drift(ref, cur.assign(n2="x"))
    # unseen categories are noted
    odd = cur.copy()
    odd.loc[:100, "c1"] = "zzz"
    assert "unseen categories: 'zzz'" in detect_drift(ref, odd).column("c1").note
