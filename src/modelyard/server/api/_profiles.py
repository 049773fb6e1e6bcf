"""Native REST: the monitor's cursor over the prediction log and its hourly profiles
(``ProfileStore`` over HTTP).

The server folds new profiles into the stored ones itself, with the monitoring profile's own
merge: a client's ``merge`` function cannot travel, and the fold must happen inside the
store's transaction. A profile is compressed JSON from a client, so it is decoded under a
limit (no zip bomb) and checked before anything is written; a bad one is a 400 that names it.
"""

from __future__ import annotations

import zlib

from modelyard.core.errors import ValidationError
from modelyard.core.wire_monitoring import (
    AddProfiles,
    FolderMarks,
    HourProfile,
    HourProfiles,
    Names,
)
from modelyard.monitoring._sketch import Profile
from modelyard.server._operations import Access, Call, Operation
from modelyard.server.api._query import required_int

API = "/api/v1/monitors/{endpoint}/profiles"
_EDIT = Access("edit")
_MAX_DECODED = 64 * 1024 * 1024


def checked_profile(blob: bytes, where: str) -> Profile:
    """The profile ``blob`` holds, decompressed to at most ``_MAX_DECODED`` bytes."""
    inflate = zlib.decompressobj()
    try:
        inflate.decompress(blob, _MAX_DECODED)
        if inflate.unconsumed_tail:
            raise ValidationError(f"{where}: decompresses to more than {_MAX_DECODED} bytes")
        if not inflate.eof:
            raise ValidationError(f"{where}: the compressed profile is cut short")
        return Profile.from_bytes(blob)
    except ValidationError:
        raise
    except Exception as error:
        raise ValidationError(
            f"{where} is not a monitoring profile ({type(error).__name__})"
        ) from None


def _merge(stored: bytes, new: bytes) -> bytes:
    return Profile.from_bytes(stored).merge(Profile.from_bytes(new)).to_bytes()


def seen(call: Call) -> Names:
    body: Names = call.body
    found = call.state.store.profiles.seen(call.path["endpoint"], body.names)
    return Names(names=sorted(found))


def add(call: Call) -> None:
    body: AddProfiles = call.body
    hours: dict[int, tuple[int, bytes]] = {}
    for i, hour in enumerate(body.hours):
        checked_profile(hour.profile, f"hours.{i}.profile")
        if hour.hour_start in hours:
            raise ValidationError(f"hours.{i}.hour_start: hour {hour.hour_start} is given twice")
        hours[hour.hour_start] = (hour.rows, hour.profile)
    call.state.store.profiles.add(call.path["endpoint"], body.names, hours, _merge)


def folder_marks(call: Call) -> FolderMarks:
    return FolderMarks(marks=call.state.store.profiles.folder_marks(call.path["endpoint"]))


def mark_folders(call: Call) -> None:
    body: FolderMarks = call.body
    call.state.store.profiles.mark_folders(call.path["endpoint"], body.marks)


def hours(call: Call) -> HourProfiles:
    found = call.state.store.profiles.hours(
        call.path["endpoint"], required_int(call, "start"), required_int(call, "end")
    )
    return HourProfiles(
        hours=[HourProfile(hour_start=h, rows=rows, profile=blob) for h, rows, blob in found]
    )


# fmt: off
OPERATIONS = [
    Operation("get_seen_log_files", "POST", f"{API}/seen",
              "Those of the named prediction-log files already folded into the profiles",
              seen, Names, Names, tag="monitoring"),
    Operation("add_profiles", "POST", API,
              "Mark log files seen and fold their hourly profiles in (409 if another pass got "
              "some first; nothing is written then)",
              add, AddProfiles, access=_EDIT, tag="monitoring"),
    Operation("get_profiles", "GET", API, "Hourly profiles with ?start= <= hour start < ?end= (ms)",
              hours, None, HourProfiles, tag="monitoring"),
    Operation("get_profiled_folders", "GET", f"{API}/folders",
              "Per date folder, its modification time when it was last fully folded in",
              folder_marks, None, FolderMarks, tag="monitoring"),
    Operation("mark_profiled_folders", "PUT", f"{API}/folders",
              "Remember date folders as fully folded in at these modification times",
              mark_folders, FolderMarks, access=_EDIT, tag="monitoring"),
]
# fmt: on
