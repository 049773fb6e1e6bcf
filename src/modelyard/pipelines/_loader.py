"""Loading pipelines (and their schedules) from a Python file."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.pipelines._payload import SOURCE, file_module_name
from modelyard.pipelines._pipeline import Pipeline
from modelyard.pipelines._watch import MonitorSchedule, monitor_pipeline


@dataclass(frozen=True)
class Schedule:
    """Run ``pipeline`` whenever ``cron`` fires (UTC), with ``params``."""

    name: str
    pipeline: str
    cron: str
    params: dict[str, Any] = field(default_factory=dict)


def load_file(path: str | Path) -> tuple[dict[str, Pipeline], list[Schedule]]:
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"pipeline file {path} does not exist")
    # the same module name in every process: it is part of every step's code hash
    name = file_module_name(file)
    spec = importlib.util.spec_from_file_location(name, file.resolve())
    if spec is None or spec.loader is None:
        raise ValidationError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    setattr(module, SOURCE, file.read_text())  # what other processes run (see _payload)
    sys.modules[name] = module
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(file.resolve())]
        where = f" line {frames[-1].lineno}" if frames else ""
        raise ValidationError(f"{path}{where}: {type(error).__name__}: {error}") from None
    finally:
        sys.path.pop(0)
    pipelines = {p.name: p for p in vars(module).values() if isinstance(p, Pipeline)}
    schedules = [s for s in vars(module).values() if isinstance(s, Schedule)]
    for extra in vars(module).values():
        if isinstance(extra, list) and extra and all(isinstance(s, Schedule) for s in extra):
            schedules.extend(s for s in extra if s not in schedules)
    watches = [m for m in vars(module).values() if isinstance(m, MonitorSchedule)]
    if not pipelines and not watches:
        raise ValidationError(f"{path} defines no @pipeline and no MonitorSchedule")
    for watch in watches:
        from modelyard.monitoring import parse_rule  # check the rules now, not at 3 a.m.
        from modelyard.pipelines._scheduler import check_cron

        check_cron(watch.cron)
        for rule in watch.alerts:
            parse_rule(rule, {name: (lambda payload: None) for name in pipelines})
        flow = monitor_pipeline(watch, pipelines)
        pipelines[flow.name] = flow
        schedules.append(Schedule(watch.name, flow.name, watch.cron, {}))
    for sched in schedules:
        if sched.pipeline not in pipelines:
            raise ValidationError(f"schedule {sched.name!r} names pipeline {sched.pipeline!r}, which {path} does not define")
    return pipelines, schedules
