"""Monitoring: drift, data quality, performance and service health per window of the
prediction log, stored as time series; alert rules; an HTML report."""

from modelyard.data._compact import Compaction
from modelyard.data._compact import compact as compact_log
from modelyard.monitoring._alerts import (
    Action,
    Condition,
    Firing,
    Rule,
    evaluate,
    parse_condition,
    parse_rule,
)
from modelyard.monitoring._drift import ColumnDrift, DriftOptions, DriftReport, detect_drift
from modelyard.monitoring._monitor import Monitor, WindowResult, parse_window
from modelyard.monitoring._report import WindowLabel, write_report

__all__ = [
    "Action",
    "ColumnDrift",
    "Compaction",
    "Condition",
    "DriftOptions",
    "DriftReport",
    "Firing",
    "Monitor",
    "Rule",
    "WindowLabel",
    "WindowResult",
    "compact_log",
    "detect_drift",
    "evaluate",
    "parse_condition",
    "parse_rule",
    "parse_window",
    "write_report",
]
