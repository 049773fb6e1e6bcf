"""``HttpProfileStore``: the monitor's cursor over the prediction log and its hourly
profiles over a team server's REST API.

``add`` cannot send its ``merge`` function: the server folds new profiles into the stored
ones with the monitoring profile's merge (the only one ``modelyard.monitoring`` passes), in
the same transaction as marking the files seen, so concurrent passes stay exact."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from modelyard.core.wire import Empty
from modelyard.core.wire_monitoring import AddProfiles, FolderMarks, HourProfiles, Names
from modelyard.store._remote._paths import q
from modelyard.store._remote._transport import Transport, wire


class HttpProfileStore:
    """Which log files an endpoint's profiles hold, and those profiles per hour, on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.where = transport.base_url

    @staticmethod
    def _path(endpoint: str, rest: str = "") -> str:
        return f"/monitors/{q(endpoint)}/profiles{rest}"

    def seen(self, endpoint: str, names: Iterable[str]) -> set[str]:
        """Those of ``names`` already folded into the endpoint's profiles."""
        wanted = list(names)
        if not wanted:
            return set()
        body = wire(Names, names=wanted)
        return set(
            self.transport.call("POST", self._path(endpoint, "/seen"), Names, body=body).names
        )

    def add(
        self,
        endpoint: str,
        names: list[str],
        hours: dict[int, tuple[int, bytes]],
        merge: Callable[[bytes, bytes], bytes],
    ) -> None:
        """Mark ``names`` seen and fold ``hours`` in on the server (see the module docstring);
        ``ConflictError`` if another pass got some of these files first."""
        body = wire(
            AddProfiles,
            names=names,
            hours=[
                {"hour_start": h, "rows": rows, "profile": blob}
                for h, (rows, blob) in sorted(hours.items())
            ],
        )
        self.transport.call("POST", self._path(endpoint), Empty, body=body)

    def folder_marks(self, endpoint: str) -> dict[str, int]:
        return self.transport.call("GET", self._path(endpoint, "/folders"), FolderMarks).marks

    def mark_folders(self, endpoint: str, marks: dict[str, int]) -> None:
        if marks:
            body = wire(FolderMarks, marks=marks)
            self.transport.call("PUT", self._path(endpoint, "/folders"), Empty, body=body)

    def hours(self, endpoint: str, start_ms: int, end_ms: int) -> list[tuple[int, int, bytes]]:
        """(hour start, rows, profile) of the hours with ``start_ms <= hour_start < end_ms``."""
        params = {"start": start_ms, "end": end_ms}
        found = self.transport.call("GET", self._path(endpoint), HourProfiles, params=params)
        return [(h.hour_start, h.rows, h.profile) for h in found.hours]
