"""Bulk writes of results through COPY, and the rescoring of stored results."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from services.assessment.intake import (
    STAGE_COLUMNS,
    CsvLayout,
)
from services.assessment.models import (
    results,
)
from services.assessment.repositories.stage_sql import (
    ANALYZE_AFTER_NEW_TEACHERS,
    STAGE_DDL,
    UPSERT_RESULTS,
    CsvStageSql,
)
from services.assessment.scoring import Instrument, WholePointCuts


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's open transaction.

    A SQLAlchemy statement must have run first (it begins the transaction); callers have done so.
    """
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


class IntakeWriter:
    """COPY staged rows into a temp table, check references, then upsert, all in the request transaction.

    The staged rows are `stage_results`: a table filled from the checked rows (`stage`), or a view
    that scores the cells of a CSV COPied as it is (`stage_csv`). Teachers are matched by external id
    in each statement, so the staged rows are never rewritten.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.timings: dict[str, float] = {}
        self.stage_table = "stage_results"

    async def stage(self, stage_path: Path) -> Any:
        await self.s.execute(text("SELECT 1"))  # make sure the transaction is open on this connection
        conn = await driver_connection(self.s)
        await conn.execute(STAGE_DDL)
        await conn.copy_to_table("stage_results", source=stage_path, columns=list(STAGE_COLUMNS), format="csv")
        return conn

    async def stage_csv(
        self, path: Path, layout: CsvLayout, instrument: Instrument, cuts: WholePointCuts, region: str | None
    ) -> tuple[Any, int] | None:
        """COPY the CSV as it is and check it in SQL; (connection, rows) when every row is good, else None.

        A file COPY cannot read, or with any row the fast checks do not pass (a bad row, a duplicate, a
        score written as `1,5`), leaves nothing behind: the caller then checks it row by row in Python.
        """
        await self.s.execute(text("SELECT 1"))  # make sure the transaction is open on this connection
        conn = await driver_connection(self.s)
        sql = CsvStageSql(layout, instrument, cuts, region)
        await conn.execute("SAVEPOINT stage_csv")
        try:
            await conn.execute(sql.create_raw())
            await conn.copy_to_table(
                "stage_raw",
                source=path,
                columns=sql.raw_columns(),
                format="csv",
                delimiter=layout.delimiter,
                header=True,
                encoding=layout.encoding,
            )
            r = await conn.fetchrow(sql.check())
            good = r["rows"] > 0 and r["bad"] == 0 and r["ids"] == r["rows"]
            if good:
                await conn.execute(sql.create_view())
        except asyncpg.PostgresError:
            good = False
        if not good:
            await conn.execute("ROLLBACK TO SAVEPOINT stage_csv")
        await conn.execute("RELEASE SAVEPOINT stage_csv")
        if not good:
            return None
        self.stage_table = "stage_raw"
        return conn, int(r["rows"])

    async def reference_problems(self, conn: Any, principal: Principal) -> list[tuple[int, str]]:
        """Rows whose teacher is unknown (and cannot be registered) or outside the caller's scope."""
        region = "coalesce(t.region, s.region)"
        scope: list[str] = []
        args: list[Any] = []
        if principal.region:
            args.append(principal.region)
            scope.append(f"{region} = ${len(args)}")
        if not principal.is_regional:
            if principal.role == Role.municipal_methodologist:
                args.append(principal.municipality or "")
                scope.append(f"coalesce(t.municipality_code, s.municipality) = ${len(args)}")
            elif principal.role == Role.school_admin:
                args.append(principal.organisation or "")
                scope.append(f"coalesce(t.organisation_code, s.organisation) = ${len(args)}")
            else:
                scope.append("false")
        in_scope = " AND ".join(scope) or "true"
        rows = await conn.fetch(
            f"""
            SELECT s.row_no,
                   -- One code for "no such teacher" and "someone else's teacher": an uploader must not
                   -- learn that an external id exists outside their scope.
                   'unknown-teacher' AS code
            FROM stage_results s LEFT JOIN assessment.teachers t ON t.external_id = s.external_id
            WHERE (t.id IS NULL AND s.full_name IS NULL) OR (({in_scope}) IS NOT TRUE)
            ORDER BY s.row_no
            """,
            *args,
        )
        return [(r["row_no"], r["code"]) for r in rows]

    async def drop_rows(self, conn: Any, row_numbers: Sequence[int]) -> None:
        await conn.execute(f"DELETE FROM {self.stage_table} WHERE row_no = ANY($1::int[])", list(row_numbers))

    async def write(
        self,
        conn: Any,
        *,
        campaign_id: uuid.UUID,
        framework_id: uuid.UUID,
        batch_id: uuid.UUID,
        subject: str,
        staged: int,
    ) -> tuple[int, int, int]:
        """Register unknown teachers, upsert results, announce changes; return (inserted, updated, unchanged)."""
        t0 = time.perf_counter()
        status = await conn.execute(
            """
            INSERT INTO assessment.teachers (external_id, full_name, search_name, region, municipality_code,
                                             organisation_code, position, subjects)
            SELECT s.external_id, s.full_name, s.search_name, s.region, s.municipality, s.organisation,
                   s.position, ARRAY[$1]::varchar[]
            FROM stage_results s
            WHERE NOT EXISTS (SELECT FROM assessment.teachers t WHERE t.external_id = s.external_id)
            ON CONFLICT (external_id) DO NOTHING
            """,
            subject,
        )
        registered = int(status.split()[-1])
        if registered >= ANALYZE_AFTER_NEW_TEACHERS:
            # The statistics do not know the teachers this transaction just added (autovacuum cannot see
            # them; one that ran meanwhile even records the table as empty), and the result upsert and its
            # key check on teachers are planned from them: a plan for an empty table scans all of it per row.
            # ANALYZE in the transaction counts its own new rows. Its lock is held to the end of the
            # transaction, so one concurrent upload doing the same skips it rather than waits.
            await conn.execute("ANALYZE (SKIP_LOCKED) assessment.teachers")
        t1 = time.perf_counter()
        r = await conn.fetchrow(UPSERT_RESULTS, campaign_id, framework_id, batch_id)
        self.timings = {"teachers": round(t1 - t0, 3), "results": round(time.perf_counter() - t1, 3)}
        inserted, changed = int(r["inserted"]), int(r["changed"])
        return inserted, changed - inserted, staged - changed

    async def rescore_stage(self, conn: Any) -> None:
        await conn.execute(
            """
            CREATE TEMP TABLE stage_rescore (
                id uuid PRIMARY KEY, competency_points numeric(8,2)[] NOT NULL, total_points numeric(8,2) NOT NULL,
                max_points numeric(8,2) NOT NULL, percent numeric(5,2) NOT NULL, level varchar(16) NOT NULL,
                grp smallint NOT NULL, deficit_codes varchar(32)[] NOT NULL, growth_codes varchar(32)[] NOT NULL,
                strength_codes varchar(32)[] NOT NULL
            ) ON COMMIT DROP
            """
        )

    async def apply_rescore(
        self, conn: Any, records: list[tuple[Any, ...]], *, campaign_id: uuid.UUID, framework_id: uuid.UUID
    ) -> int:
        """Write recomputed scores of one campaign's results; announce those that changed."""
        await conn.execute("TRUNCATE stage_rescore")
        await conn.copy_records_to_table("stage_rescore", records=records)
        return int(
            await conn.fetchval(
                """
            WITH up AS (
                UPDATE assessment.results r SET framework_id = $2, competency_points = s.competency_points,
                    total_points = s.total_points, max_points = s.max_points, percent = s.percent,
                    level = s.level, grp = s.grp, deficit_codes = s.deficit_codes, growth_codes = s.growth_codes,
                    strength_codes = s.strength_codes,
                    version = r.version + 1, updated_at = now()
                FROM stage_rescore s
                WHERE r.id = s.id AND r.campaign_id = $1
                  AND (r.framework_id, r.competency_points, r.total_points, r.max_points, r.level, r.grp,
                       r.deficit_codes, r.growth_codes, r.strength_codes)
                      IS DISTINCT FROM
                      ($2, s.competency_points, s.total_points, s.max_points, s.level, s.grp,
                       s.deficit_codes, s.growth_codes, s.strength_codes)
                RETURNING r.id, r.teacher_id, r.version
            ), announced AS (
                INSERT INTO assessment.result_changes (result_id, teacher_id, campaign_id, result_version)
                SELECT id, teacher_id, $1, version FROM up RETURNING 1
            )
            SELECT count(*) FROM announced
            """,
                campaign_id,
                framework_id,
            )
        )

    async def results_for_rescore(
        self, campaign_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[dict[str, Any]]:
        q = select(
            results.c.id,
            results.c.item_points,
            results.c.competency_points,
            results.c.total_points,
            results.c.level,
            results.c.level_source,
        ).where(results.c.campaign_id == campaign_id)
        if after is not None:
            q = q.where(results.c.id > after)
        q = q.order_by(results.c.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]
