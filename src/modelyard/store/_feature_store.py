"""Applied feature definitions and materialization watermarks, in the metadata database."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select

from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._requests import claim
from modelyard.store._schema import feature_definitions, materializations


class FeatureRegistryStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    def definitions(self, project: str) -> dict[tuple[str, str], dict[str, Any]]:
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(
                select(feature_definitions).where(feature_definitions.c.project == project)
            )
            return {(r.kind, r.name): orjson.loads(r.spec) for r in rows}

    def apply(
        self,
        project: str,
        upserts: dict[tuple[str, str], dict[str, Any]],
        deletes: list[tuple[str, str]],
    ) -> None:
        """Replace the changed definitions and drop the removed ones, in one transaction."""
        now = now_ms()
        with translated(self.where), self._engines.write.begin() as conn:
            for kind, name in [*upserts, *deletes]:
                conn.execute(
                    delete(feature_definitions).where(
                        feature_definitions.c.project == project,
                        feature_definitions.c.kind == kind,
                        feature_definitions.c.name == name,
                    )
                )
            if upserts:
                conn.execute(
                    insert(feature_definitions),
                    [
                        {
                            "project": project,
                            "kind": k,
                            "name": n,
                            "spec": orjson.dumps(spec).decode(),
                            "updated_time": now,
                        }
                        for (k, n), spec in upserts.items()
                    ],
                )

    def record_materialization(
        self, project: str, view: str, online_store: str, start: int, end: int, rows: int
    ) -> None:
        """One completed run (a retry of the same request over HTTP is recorded once)."""
        with translated(self.where), self._engines.write.begin() as conn:
            if not claim(conn, self._engines.dialect).fresh:
                return
            conn.execute(
                insert(materializations).values(
                    project=project,
                    view=view,
                    online_store=online_store,
                    start_time=start,
                    end_time=end,
                    rows=rows,
                    completed_time=now_ms(),
                )
            )

    def watermark(self, project: str, view: str, online_store: str) -> int | None:
        """The end of the last completed materialization of ``view`` into ``online_store``."""
        with translated(self.where), self._engines.read.connect() as conn:
            value = conn.execute(
                select(func.max(materializations.c.end_time)).where(
                    materializations.c.project == project,
                    materializations.c.view == view,
                    materializations.c.online_store == online_store,
                )
            ).scalar()
        return None if value is None else int(value)

    def projects(self) -> list[str]:
        with translated(self.where), self._engines.read.connect() as conn:
            return list(
                conn.execute(
                    select(feature_definitions.c.project).distinct().order_by(feature_definitions.c.project)
                ).scalars()
            )

    def last_materializations(self, project: str) -> list[dict[str, Any]]:
        """Per view and online store: the latest watermark, when it was written, the rows of
        that run and how many runs there were (the freshness of the online store)."""
        m = materializations
        query = (
            select(
                m.c.view, m.c.online_store, func.max(m.c.end_time), func.max(m.c.completed_time),
                func.count(), func.sum(m.c.rows),
            )
            .where(m.c.project == project)
            .group_by(m.c.view, m.c.online_store)
            .order_by(m.c.view)
        )
        with translated(self.where), self._engines.read.connect() as conn:
            return [
                {"view": r[0], "online_store": r[1], "watermark": int(r[2]), "completed_time": int(r[3]),
                 "runs": int(r[4]), "rows": int(r[5] or 0)}
                for r in conn.execute(query)
            ]
