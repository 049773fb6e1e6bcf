"""Alert rules over a window's results: ``drift_share > 0.3``, ``auc < 0.75``,
``p99_latency_ms > 50``, ``error_rate > 0.01`` — with a minimum sample size, a cool-down, and
actions: log, webhook (HTTP POST, retried with back-off), or trigger (a callable, e.g. a
pipeline run)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import operator
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.core.ids import now_ms
from modelyard.monitoring._monitor import WindowResult, parse_window
from modelyard.store._monitor_store import AlertEvent, MonitorStore
from modelyard.store._remote._monitoring import HttpMonitorStore

log = logging.getLogger("modelyard.alerts")

METRICS = (
    "drift_share", "dataset_drift", "prediction_drift", "rows", "requests", "auc", "accuracy", "log_loss",
    "rmse", "mae", "labelled", "positive_rate", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms",
    "error_rate", "client_error_rate", "throughput_rps", "feedback_unmatched",
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_condition(text: str) -> Condition:
    """``metric op number``; a mistake names the token that is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("an alert rule is a condition like 'drift_share > 0.3'")
    match = _RULE.match(text)
    if match is None:
        tokens = text.split()
        if tokens and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tokens[0]):
            raise ValidationError(f"rule {text!r}: {tokens[0]!r} is not a metric name")
        if len(tokens) < 2 or tokens[1] not in _OPS:
            bad = tokens[1] if len(tokens) > 1 else "(nothing)"
            raise ValidationError(f"rule {text!r}: {bad!r} is not a comparison; use one of {list(_OPS)}")
        bad = tokens[2] if len(tokens) > 2 else "(nothing)"
        raise ValidationError(f"rule {text!r}: {bad!r} is not a number")
    metric, op, value = match.group(1), match.group(2), float(match.group(3))
    if metric not in METRICS:
        close = [m for m in METRICS if m.split("_")[0] in metric or metric.split("_")[0] in m][:3]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValidationError(f"rule {text!r}: {metric!r} is not a monitored metric{hint} (known: {', '.join(METRICS)})")
    return Condition(metric, op, value)


@dataclass
class Action:
    kind: str  # log | webhook | trigger
    url: str | None = None
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    target: Callable[[dict[str, Any]], Any] | None = None
    name: str = ""


@dataclass
class Rule:
    condition: Condition
    min_rows: int = 100
    cooldown: _dt.timedelta = field(default_factory=lambda: _dt.timedelta(hours=1))
    actions: list[Action] = field(default_factory=lambda: [Action("log")])

    @property
    def text(self) -> str:
        return str(self.condition)


def parse_rule(spec: Any, triggers: dict[str, Callable[[dict[str, Any]], Any]] | None = None) -> Rule:
    """A rule from YAML/dict: ``{rule: "auc < 0.75", min_rows: 200, cooldown: 6h,
    actions: [log, {webhook: "http://..."}, {trigger: retrain}]}`` or just the condition."""
    if isinstance(spec, str):
        return Rule(parse_condition(spec))
    if not isinstance(spec, dict) or "rule" not in spec:
        raise ValidationError(f"alert {spec!r} needs a 'rule' such as 'drift_share > 0.3'")
    unknown = set(spec) - {"rule", "min_rows", "cooldown", "actions"}
    if unknown:
        raise ValidationError(f"alert {spec['rule']!r}: unknown field(s) {sorted(unknown)}")
    min_rows = spec.get("min_rows", 100)
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 0:
        raise ValidationError(f"alert {spec['rule']!r}: min_rows must be a non-negative integer")
    cooldown = parse_window(str(spec["cooldown"])) if "cooldown" in spec else _dt.timedelta(hours=1)
    actions: list[Action] = []
    for item in spec.get("actions", ["log"]):
        if item == "log":
            actions.append(Action("log"))
        elif isinstance(item, dict) and "webhook" in item:
            url = item["webhook"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValidationError(f"alert {spec['rule']!r}: webhook {url!r} is not an http(s) URL")
            actions.append(Action("webhook", url=url, timeout=float(item.get("timeout", 5.0)), retries=int(item.get("retries", 3))))
        elif isinstance(item, dict) and "trigger" in item:
            name = str(item["trigger"])
            if triggers is None or name not in triggers:
                known = sorted(triggers or {})
                raise ValidationError(f"alert {spec['rule']!r}: trigger {name!r} is unknown; known triggers: {known}")
            actions.append(Action("trigger", target=triggers[name], name=name))
        else:
            raise ValidationError(f"alert {spec['rule']!r}: action {item!r} is not log, {{webhook: URL}} or {{trigger: NAME}}")
    return Rule(parse_condition(spec["rule"]), min_rows, cooldown, actions)


@dataclass
class Firing:
    rule: str
    value: float
    actions: list[tuple[str, str, str]]  # (action, status, detail)


def _post(action: Action, payload: dict[str, Any], sleep: Callable[[float], None]) -> tuple[str, str]:
    assert action.url is not None
    body = json.dumps(payload).encode()
    last = ""
    for attempt in range(action.retries + 1):
        request = urllib.request.Request(action.url, data=body, method="POST", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=action.timeout) as answer:
                if 200 <= answer.status < 300:
                    return "sent", f"HTTP {answer.status} after {attempt + 1} attempt(s)"
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
            error.close()
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        if attempt < action.retries:
            sleep(action.backoff * 2**attempt)
    return "failed", f"{last} after {action.retries + 1} attempts"


def evaluate(
    rules: list[Rule],
    result: WindowResult,
    store: MonitorStore | HttpMonitorStore,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Firing]:
    """Check every rule against a window; fire the actions of those that hold (unless in
    cool-down or short of rows), record each firing. A failing action never stops the rest."""
    values = result.overall
    fired: list[Firing] = []
    end_ms = int(result.end.timestamp() * 1000)
    for rule in rules:
        observed = values.get(rule.condition.metric)
        if observed is None or observed != observed:  # missing or NaN: nothing to judge
            continue
        if result.rows < rule.min_rows and rule.condition.metric not in ("rows", "requests"):
            continue
        if not rule.condition.holds(observed):
            continue
        last = store.last_alert(result.endpoint, rule.text)
        if last is not None and end_ms - last.window_end < rule.cooldown.total_seconds() * 1000:
            continue
        payload = {
            "rule": rule.text,
            "endpoint": result.endpoint,
            "value": observed,
            "window": {"start": result.start.isoformat(), "end": result.end.isoformat()},
            "summary": {k: v for k, v in values.items() if isinstance(v, float)},
        }
        outcomes: list[tuple[str, str, str]] = []
        for action in rule.actions:
            if action.kind == "log":
                log.warning("alert %s on %s: %s = %g", rule.text, result.endpoint, rule.condition.metric, observed)
                status, detail = "logged", ""
            elif action.kind == "webhook":
                status, detail = _post(action, payload, sleep)
                if status == "failed":
                    log.error("alert %s: webhook %s failed: %s", rule.text, action.url, detail)
            else:
                assert action.target is not None
                try:
                    got = action.target(payload)
                    status, detail = "triggered", f"{action.name}: {got}"[:500]
                except Exception as error:
                    log.exception("alert %s: trigger %s failed", rule.text, action.name)
                    status, detail = "failed", f"{action.name}: {type(error).__name__}: {error}"[:500]
            outcomes.append((action.kind, status, detail))
            store.record_alert(AlertEvent(rule.text, result.endpoint, end_ms, now_ms(), observed, action.kind, status, detail))
        fired.append(Firing(rule.text, observed, outcomes))
    return fired
