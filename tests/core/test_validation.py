from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.core import validation as v
from modelyard.core.errors import ValidationError


@pytest.mark.parametrize("key", ["loss", "train/loss", "val.auc", "a-b_c:d", "with space"])
def test_good_keys_pass(key: str) -> None:
    assert v.check_key(key) == key


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 251, "251 characters long; the limit is 250"),
        ("../x", "path-like"),
        ("a/../b", "path-like"),
        ("/etc/passwd", "path-like"),
        ("a\nb", "contains"),
        ("naïve", "contains 'ï'"),
    ],
)
def test_bad_keys_say_what_is_wrong(key: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        v.check_key(key, "metric key")


def test_non_string_key_names_its_type() -> None:
    with pytest.raises(ValidationError, match="must be a string, got int"):
        v.check_key(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1, 2.5, np.float32(0.5), np.int64(3), math.inf])
def test_numeric_metric_values_become_floats(value: object) -> None:
    assert isinstance(v.check_metric_value("m", value), float)


@pytest.mark.parametrize("value", ["0.9", None, [1.0], True, object()])
def test_non_numeric_metric_values_are_refused(value: object) -> None:
    with pytest.raises(
        ValidationError, match="metric 'm' got value .* metric values must be numbers"
    ):
        v.check_metric_value("m", value)


def test_fractional_step_is_refused() -> None:
    with pytest.raises(ValidationError, match="steps are integers"):
        v.check_step("m", 1.5)


def test_long_param_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="param 'p' has a value of 6001 characters"):
        v.param_value("p", "x" * 6001)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, ""),
        ("", ""),
        ("plots", "plots"),
        ("a/b/", "a/b"),
        ("./a//b", "a/b"),
        ("my file (1).png", "my file (1).png"),
    ],
)
def test_artifact_paths_normalize(path: str | None, expected: str) -> None:
    assert v.check_artifact_path(path) == expected


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../up", "climbs out"),
        ("a/../../b", "climbs out"),
        ("a\\..\\..\\b", "climbs out"),
        ("/abs", "absolute"),
        ("\\\\server\\share\\x", "absolute"),
        ("C:/Windows/x", "drive letter"),
        ("c:x", "drive letter"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
    ],
)
def test_artifact_paths_cannot_escape(path: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        v.check_artifact_path(path)


@pytest.mark.parametrize("path", ["model.pkl", "artifacts/cfg/a b.txt", "x/C:/y", "ab:c"])
def test_good_bundle_paths_pass(path: str) -> None:
    assert v.check_bundle_path(path) == path


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../../x", "climbs out"),
        ("a\\b", "backslash"),
        ("C:/x", "drive letter"),
        ("a\x00b", "control characters"),
        ("./model.pkl", "not in normal form; write it as 'model.pkl'"),
        ("a//b", "not in normal form"),
        (3, "must be a string"),
    ],
)
def test_bad_bundle_paths_say_what_is_wrong(path: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        v.check_bundle_path(path)
