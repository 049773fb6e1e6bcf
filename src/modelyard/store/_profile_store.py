"""The monitor's cursor over the prediction log: which log files an endpoint's profiles already
hold, and those profiles per hour (opaque bytes here; ``modelyard.monitoring`` merges them).

Recording new files and folding their profiles in happen in one transaction, and the files'
names are inserted first under a primary key: two passes that read the same new file cannot
both count it (the second one's transaction fails and it starts over from the new cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy import exc as sa_exc

from modelyard.core.errors import ConflictError
from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._requests import claim
from modelyard.store._schema import monitor_profiles, monitor_seen_files, monitor_seen_folders

_CHUNK = 500


class ProfileStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    def seen(self, endpoint: str, names: Iterable[str]) -> set[str]:
        """Those of ``names`` already folded into the endpoint's profiles."""
        wanted = list(names)
        out: set[str] = set()
        s = monitor_seen_files
        with translated(self.where), self._engines.read.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                query = select(s.c.name).where(and_(s.c.endpoint == endpoint, s.c.name.in_(chunk)))
                out.update(r[0] for r in conn.execute(query))
        return out

    def add(
        self,
        endpoint: str,
        names: list[str],
        hours: dict[int, tuple[int, bytes]],
        merge: Callable[[bytes, bytes], bytes],
    ) -> None:
        """Mark ``names`` seen and fold ``hours`` (hour start in ms -> (rows, profile)) into the
        stored profiles with ``merge(stored, new)``; ``ConflictError`` if another pass got
        some of these files first (nothing is written then)."""
        now = now_ms()
        p = monitor_profiles
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                if not claim(conn, self._engines.dialect).fresh:
                    return  # a retry over HTTP of a fold that was done
                if names:
                    conn.execute(
                        insert(monitor_seen_files),
                        [{"endpoint": endpoint, "name": n, "seen_time": now} for n in names],
                    )
                for hour, (rows, blob) in sorted(hours.items()):
                    key = and_(p.c.endpoint == endpoint, p.c.hour_start == hour)
                    row = conn.execute(
                        select(p.c.rows, p.c.profile).where(key).with_for_update()
                    ).first()
                    if row is None:
                        conn.execute(
                            insert(p).values(
                                endpoint=endpoint,
                                hour_start=hour,
                                rows=rows,
                                profile=blob,
                                updated_time=now,
                            )
                        )
                    else:
                        merged = merge(bytes(row.profile), blob)
                        conn.execute(
                            update(p)
                            .where(key)
                            .values(rows=row.rows + rows, profile=merged, updated_time=now)
                        )
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"another monitor pass profiled some of these files of {endpoint!r} first"
            ) from error

    def folder_marks(self, endpoint: str) -> dict[str, int]:
        """Per date folder, its modification time when every file in it was last folded in."""
        f = monitor_seen_folders
        with translated(self.where), self._engines.read.connect() as conn:
            return {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(f.c.folder, f.c.mtime_ns).where(f.c.endpoint == endpoint)
                )
            }

    def mark_folders(self, endpoint: str, marks: dict[str, int]) -> None:
        """Remember folders as fully folded in at these modification times: a later pass
        lists a folder again only when its modification time differs."""
        if not marks:
            return
        f = monitor_seen_folders
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                delete(f).where(and_(f.c.endpoint == endpoint, f.c.folder.in_(list(marks))))
            )
            conn.execute(
                insert(f),
                [{"endpoint": endpoint, "folder": k, "mtime_ns": v} for k, v in marks.items()],
            )

    def hours(self, endpoint: str, start_ms: int, end_ms: int) -> list[tuple[int, int, bytes]]:
        """(hour start, rows, profile) of the hours with ``start_ms <= hour_start < end_ms``."""
        p = monitor_profiles
        query = (
            select(p.c.hour_start, p.c.rows, p.c.profile)
            .where(
                and_(p.c.endpoint == endpoint, p.c.hour_start >= start_ms, p.c.hour_start < end_ms)
            )
            .order_by(p.c.hour_start)
        )
        with translated(self.where), self._engines.read.connect() as conn:
            return [(int(r[0]), int(r[1]), bytes(r[2])) for r in conn.execute(query)]
