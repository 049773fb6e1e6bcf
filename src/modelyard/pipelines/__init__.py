"""Pipelines: cached steps in a DAG that follows from their data, run in-process, one process
per step or on Ray; schedules and alert triggers run by a restart-safe scheduler."""

from modelyard.pipelines._loader import Schedule, load_file
from modelyard.pipelines._pipeline import Pipeline, PipelineResult, Step, StepResult, pipeline, step
from modelyard.pipelines._scheduler import Scheduler, check_cron, pipeline_trigger
from modelyard.pipelines._watch import MonitorSchedule

__all__ = [
    "MonitorSchedule",
    "Pipeline",
    "PipelineResult",
    "Schedule",
    "Scheduler",
    "Step",
    "StepResult",
    "check_cron",
    "load_file",
    "pipeline",
    "pipeline_trigger",
    "step",
]
