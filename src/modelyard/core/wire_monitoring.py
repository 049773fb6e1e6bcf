"""The native REST API's bodies for monitoring: window results, fired alerts and the
monitor's hourly profiles (``MonitorStore`` and ``ProfileStore`` over HTTP).

Profiles are opaque compressed sketches; they travel base64-encoded in JSON, each bounded
(``MAX_PROFILE_BYTES``) and the whole body by the server's body limit."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modelyard.core.wire import Wire

MAX_POINTS = 100_000
MAX_NAMES = 100_000
MAX_PROFILE_BYTES = 8 * 1024 * 1024


class Point(Wire):
    """One result of a window: a metric of a column, model version and route."""

    name: str = Field(min_length=1, max_length=256)
    column: str = Field(max_length=1024)
    version: str = Field(max_length=256)
    route: str = Field(max_length=256)
    value: float | None


class RecordWindow(Wire):
    """A window's results, replacing an earlier computation of the same window."""

    window_start: int
    window_end: int
    points: list[Point] = Field(max_length=MAX_POINTS)


class PointOut(Point):
    endpoint: str
    window_start: int
    window_end: int


class Points(Wire):
    points: list[PointOut]


class Rows(Wire):
    rows: list[tuple[int, int, str, str, str, str, float | None]] = Field(
        description="(window start, window end, name, column, version, route, value)"
    )


class Endpoints(Wire):
    endpoints: list[str]


class Alert(Wire):
    """A fired alert rule (its endpoint is the one in the path)."""

    rule: str = Field(min_length=1, max_length=4096)
    window_end: int
    fired_time: int
    value: float | None
    action: str = Field(max_length=256)
    status: str = Field(max_length=256)
    detail: str = Field(max_length=65_536)


class AlertOut(Alert):
    endpoint: str


class MaybeAlert(Wire):
    alert: AlertOut | None


class Alerts(Wire):
    alerts: list[AlertOut]


# -- profiles -----------------------------------------------------------------------------


class Names(Wire):
    names: list[str] = Field(max_length=MAX_NAMES)


class HourProfile(Wire):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    hour_start: int
    rows: int = Field(ge=0)
    profile: bytes = Field(
        max_length=MAX_PROFILE_BYTES, description="the hour's compressed profile, base64-encoded"
    )


class AddProfiles(Wire):
    """Log files to mark seen, and their hours' profiles to fold into the stored ones."""

    names: list[str] = Field(max_length=MAX_NAMES)
    hours: list[HourProfile] = Field(max_length=10_000)


class HourProfiles(Wire):
    hours: list[HourProfile]


class FolderMarks(Wire):
    marks: dict[str, int] = Field(description="date folder -> modification time (ns)")
