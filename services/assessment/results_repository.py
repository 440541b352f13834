"""Every query of assessment intake: frameworks, campaigns, results, the change feed, analytics."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Select, and_, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from services.assessment.intake import (
    DEFAULT_POSITION,
    PY_WHITESPACE,
    STAGE_COLUMNS,
    CsvLayout,
    Organisation,
    fmt_points,
)
from services.assessment.models import (
    campaigns,
    frameworks,
    intake_batches,
    municipalities,
    organisations,
    result_changes,
    results,
    teachers,
)
from services.assessment.repository import teacher_scope_clause
from services.assessment.scoring import Framework, Instrument, WholePointCuts, framework_from_document

# Framework versions never change once stored, so their scoring view is cached by id.
_SCORING_CACHE: dict[uuid.UUID, Framework] = {}
_SCORING_CACHE_MAX = 256


def visible_region(column: Any, principal: Principal) -> Any:
    """Objects of the caller's region or of no region (shared) are visible."""
    if principal.region:
        return or_(column.is_(None), column == principal.region)
    return and_(True)


class FrameworkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def create(self, *, region: str | None, code: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        """Store the next version of framework `code` in `region`."""
        await self.s.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"framework|{region}|{code}"}
        )
        same = and_(
            frameworks.c.code == code,
            frameworks.c.region.is_(None) if region is None else frameworks.c.region == region,
        )
        current = (await self.s.execute(select(func.max(frameworks.c.version)).where(same))).scalar_one()
        stmt = (
            frameworks.insert()
            .values(region=region, code=code, version=(current or 0) + 1, name=name, document=document)
            .returning(*frameworks.c)
        )
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def search(self, principal: Principal, code: str | None) -> list[dict[str, Any]]:
        q = select(
            frameworks.c.id,
            frameworks.c.region,
            frameworks.c.code,
            frameworks.c.version,
            frameworks.c.name,
            frameworks.c.created_at,
            frameworks.c.document,
        ).where(visible_region(frameworks.c.region, principal))
        if code:
            q = q.where(frameworks.c.code == code)
        q = q.order_by(frameworks.c.code, frameworks.c.version)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def get(self, principal: Principal, code: str, version: int | None) -> dict[str, Any] | None:
        q = select(*frameworks.c).where(visible_region(frameworks.c.region, principal), frameworks.c.code == code)
        if version is not None:
            q = q.where(frameworks.c.version == version)
        # A region's own framework wins over a shared one with the same code.
        q = q.order_by(frameworks.c.region.is_(None), frameworks.c.version.desc()).limit(1)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def scoring(self, framework_id: uuid.UUID) -> Framework:
        """The scoring view of a stored framework version (cached: versions are immutable)."""
        fw = _SCORING_CACHE.get(framework_id)
        if fw is None:
            row = (
                await self.s.execute(
                    select(frameworks.c.document, frameworks.c.version).where(frameworks.c.id == framework_id)
                )
            ).one()
            fw = framework_from_document(row.document, row.version)
            if len(_SCORING_CACHE) >= _SCORING_CACHE_MAX:
                _SCORING_CACHE.clear()
            _SCORING_CACHE[framework_id] = fw
        return fw


CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.region,
    campaigns.c.name,
    campaigns.c.source,
    campaigns.c.subject,
    campaigns.c.assessed_on,
    campaigns.c.framework_id,
    frameworks.c.code.label("framework_code"),
    frameworks.c.version.label("framework_version"),
    campaigns.c.instrument,
    campaigns.c.status,
    campaigns.c.version,
    campaigns.c.created_at,
    campaigns.c.updated_at,
)


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _base(self, principal: Principal) -> Select[Any]:
        return (
            select(*CAMPAIGN_COLUMNS)
            .join(frameworks, frameworks.c.id == campaigns.c.framework_id)
            .where(visible_region(campaigns.c.region, principal))
        )

    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        cid = (await self.s.execute(campaigns.insert().values(**values).returning(campaigns.c.id))).scalar_one()
        row = (
            await self.s.execute(
                select(*CAMPAIGN_COLUMNS)
                .join(frameworks, frameworks.c.id == campaigns.c.framework_id)
                .where(campaigns.c.id == cid)
            )
        ).one()
        return dict(row._mapping)

    async def get(self, principal: Principal, campaign_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        q = self._base(principal).where(campaigns.c.id == campaign_id)
        if lock:
            q = q.with_for_update(of=campaigns)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        subject: str | None,
        source: str | None,
        status: str | None,
        year: int | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = self._base(principal)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if source:
            q = q.where(campaigns.c.source == source)
        if status:
            q = q.where(campaigns.c.status == status)
        if year:
            q = q.where(campaigns.c.assessed_on >= date(year, 1, 1), campaigns.c.assessed_on <= date(year, 12, 31))
        if after is not None:
            # Newest first: (assessed_on, id) descending.
            q = q.where(
                tuple_(campaigns.c.assessed_on, campaigns.c.id)
                < tuple_(date.fromisoformat(after[0]), uuid.UUID(after[1]))
            )
        q = q.order_by(campaigns.c.assessed_on.desc(), campaigns.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def update(self, campaign_id: uuid.UUID, expected_version: int, values: dict[str, Any]) -> bool:
        """Conditional update on the version; False when the campaign changed meanwhile."""
        stmt = (
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.version == expected_version)
            .values(**values, version=campaigns.c.version + 1, updated_at=func.now())
        )
        return bool((await self.s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def organisations(self, region: str | None) -> dict[str, Organisation]:
        q = select(organisations.c.code, organisations.c.municipality_code, municipalities.c.region).join(
            municipalities, municipalities.c.code == organisations.c.municipality_code
        )
        if region:
            q = q.where(municipalities.c.region == region)
        return {r.code: Organisation(r.municipality_code, r.region) for r in await self.s.execute(q)}

    async def record_batch(self, values: dict[str, Any]) -> None:
        await self.s.execute(intake_batches.insert().values(**values))

    async def batches(self, campaign_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            select(*intake_batches.c)
            .where(intake_batches.c.campaign_id == campaign_id)
            .order_by(intake_batches.c.created_at.desc(), intake_batches.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]


# --- bulk writes through COPY ----------------------------------------------------------------------

STAGE_DDL = """
CREATE TEMP TABLE stage_results (
    row_no integer NOT NULL,
    external_id varchar(64) NOT NULL,
    full_name text,
    search_name text,
    region varchar(32),
    municipality varchar(32),
    organisation varchar(32),
    position text,
    item_points numeric(8,2)[],
    competency_points numeric(8,2)[] NOT NULL,
    total_points numeric(8,2) NOT NULL,
    max_points numeric(8,2) NOT NULL,
    percent numeric(5,2) NOT NULL,
    level varchar(16) NOT NULL,
    grp smallint NOT NULL,
    level_source varchar(16) NOT NULL,
    deficit_codes varchar(32)[] NOT NULL,
    growth_codes varchar(32)[] NOT NULL,
    strength_codes varchar(32)[] NOT NULL
) ON COMMIT DROP
"""

# A batch registering at least this many teachers refreshes the table's statistics before storing results.
ANALYZE_AFTER_NEW_TEACHERS = 10_000

UPSERT_RESULTS = """
WITH up AS (
    INSERT INTO assessment.results AS r (
        campaign_id, teacher_id, framework_id, batch_id, item_points, competency_points, total_points,
        max_points, percent, level, grp, level_source, deficit_codes, growth_codes, strength_codes)
    SELECT $1, t.id, $2, $3, s.item_points, s.competency_points, s.total_points, s.max_points,
           s.percent, s.level, s.grp, s.level_source, s.deficit_codes, s.growth_codes, s.strength_codes
    FROM stage_results s JOIN assessment.teachers t ON t.external_id = s.external_id
    ON CONFLICT (campaign_id, teacher_id) DO UPDATE SET
        framework_id = EXCLUDED.framework_id, batch_id = EXCLUDED.batch_id,
        item_points = EXCLUDED.item_points, competency_points = EXCLUDED.competency_points,
        total_points = EXCLUDED.total_points, max_points = EXCLUDED.max_points, percent = EXCLUDED.percent,
        level = EXCLUDED.level, grp = EXCLUDED.grp, level_source = EXCLUDED.level_source,
        deficit_codes = EXCLUDED.deficit_codes, growth_codes = EXCLUDED.growth_codes,
        strength_codes = EXCLUDED.strength_codes, version = r.version + 1, updated_at = now()
    WHERE (r.framework_id, r.item_points, r.competency_points, r.total_points, r.max_points, r.level,
           r.level_source, r.deficit_codes, r.growth_codes, r.strength_codes)
          IS DISTINCT FROM
          (EXCLUDED.framework_id, EXCLUDED.item_points, EXCLUDED.competency_points, EXCLUDED.total_points,
           EXCLUDED.max_points, EXCLUDED.level, EXCLUDED.level_source, EXCLUDED.deficit_codes,
           EXCLUDED.growth_codes, EXCLUDED.strength_codes)
    RETURNING r.id, r.teacher_id, r.version
), announced AS (
    INSERT INTO assessment.result_changes (result_id, teacher_id, campaign_id, result_version)
    SELECT id, teacher_id, $1, version FROM up
    RETURNING result_version
)
SELECT count(*) FILTER (WHERE result_version = 1) AS inserted, count(*) AS changed FROM announced
"""


def _literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on: only quotes are doubled)."""
    return "'" + value.replace("'", "''") + "'"


# Names folded in SQL exactly as `normalize_name` folds them: digits, Latin and Cyrillic letters (whose
# casefold is their simple lowercase, what lower() gives under pg_c_utf8), apostrophe, dot, hyphen, and
# single spaces between words (nothing for split() to collapse).
_NAME_CHARS = "0-9A-Za-zЁА-яё'.-"
_NAME_RE = f"^[{_NAME_CHARS}]+( [{_NAME_CHARS}]+)*$"


class CsvStageSql:
    """The SQL that reads a COPied CSV (`stage_raw`, one text column per header cell) like `RowChecker`.

    `check()` counts the rows, the rows the fast checks do not pass and the distinct external ids;
    `create_view()` defines `stage_results` over the good rows, scored with the tabulated rules
    (`WholePointCuts`), so the view holds exactly what `RowChecker` would have staged.
    """

    def __init__(self, layout: CsvLayout, instrument: Instrument, cuts: WholePointCuts, region: str | None) -> None:
        self.layout, self.ins, self.cuts, self.region = layout, instrument, cuts, region
        fields = layout.columns.fields

        def cell(name: str) -> str:
            i = fields.get(name)
            return "NULL::text" if i is None else f"r.c{i + 1}"

        self.ext, self.name, self.mun, self.org = (
            cell(f) for f in ("external_id", "full_name", "municipality", "organisation")
        )
        self.position, self.total = cell("position"), cell("total")
        self.items = [f"r.c{i + 1}" for i in layout.columns.items or []]

    def raw_columns(self) -> list[str]:
        return [f"c{i + 1}" for i in range(self.layout.width)]

    def create_raw(self) -> str:
        cols = ", ".join(f"{c} text" for c in self.raw_columns())
        return f"CREATE TEMP TABLE stage_raw ({cols}, row_no integer GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP"

    def _from(self) -> str:
        in_region = f"WHERE m.region = {_literal(self.region)}" if self.region else ""
        return f"""
            FROM stage_raw r
            LEFT JOIN (SELECT o.code, o.municipality_code, m.region FROM assessment.organisations o
                       JOIN assessment.municipalities m ON m.code = o.municipality_code {in_region}) o
                   ON o.code = {self.org} AND o.municipality_code = {self.mun}"""

    def _good(self) -> str:
        """A row `RowChecker` accepts with these very cells: nothing to strip, whole points within range."""
        items = ", ".join(self.items)
        whole = " AND ".join(
            f"{c}::int <= {math.floor(it.max_points)}" for c, it in zip(self.items, self.ins.items, strict=True)
        )
        total = ""
        if self.total != "NULL::text":
            total = (
                f" AND ({self.total} IS NULL OR ({self.total} ~ '^[0-9]+$' AND char_length({self.total}) <= 6"
                f" AND {self.total}::int = {' + '.join(f'{c}::int' for c in self.items)}))"
            )
        return f"""
            {self.ext} ~ '^[A-Za-z0-9_.:-]+$' AND char_length({self.ext}) <= 64
            AND ({self.name} IS NULL OR (char_length({self.name}) BETWEEN 3 AND 300
                                         AND {self.name} ~ {_literal(_NAME_RE)}))
            AND ({self.position} IS NULL OR (char_length({self.position}) <= 300
                                             AND {self.position} = btrim({self.position}, {_literal(PY_WHITESPACE)})))
            AND (({self.mun} IS NULL AND {self.org} IS NULL) OR o.code IS NOT NULL)
            AND CASE WHEN num_nulls({items}) = 0 AND concat({items}) ~ '^[0-9]+$'
                          AND greatest({", ".join(f"length({c})" for c in self.items)}) <= 4
                     THEN {whole}{total}
                     ELSE false END"""

    def check(self) -> str:
        return f"""
            SELECT count(*) AS rows, count(*) FILTER (WHERE NOT good) AS bad, count(DISTINCT external_id) AS ids
            FROM (SELECT {self.ext} AS external_id, coalesce({self._good()}, false) AS good
                  {self._from()}) r"""

    def create_view(self) -> str:
        ins, cuts = self.ins, self.cuts
        n_comp = len(ins.competencies)
        points = ", ".join(f"{c}::int AS i{k}" for k, c in enumerate(self.items))
        comp = ", ".join(f"({' + '.join(f'i{k}' for k in idx)}) AS k{j}" for j, idx in enumerate(ins.competency_items))
        ks = [f"x.k{j}" for j in range(n_comp)]

        def codes(condition: str) -> str:
            return (
                "array_remove(ARRAY["
                + ", ".join(
                    f"CASE WHEN {condition.format(k=k, d=d, s=st)} THEN {_literal(code)} END"
                    for k, d, st, code in zip(ks, cuts.deficit_until, cuts.strength_from, ins.competencies, strict=True)
                )
                + "], NULL)::varchar(32)[]"
            )

        def by_level(values: list[str]) -> str:
            whens = " ".join(
                f"WHEN x.total >= {t} THEN {v}" for t, v in reversed(list(zip(cuts.level_from, values, strict=True)))
            )
            return f"CASE {whens} END"

        percents = "{" + ",".join(fmt_points(p) for p in cuts.percents) + "}"
        # Each level is computed once per row (OFFSET 0 keeps the planner from inlining the sums into every
        # use); the planner drops the columns a statement does not read, so registering teachers casts no points.
        return f"""
            CREATE TEMP VIEW stage_results AS
            SELECT x.row_no, x.external_id::varchar(64) AS external_id,
                   CASE WHEN x.region IS NOT NULL THEN x.full_name END AS full_name,
                   CASE WHEN x.region IS NOT NULL THEN replace(lower(x.full_name COLLATE pg_c_utf8), 'ё', 'е')
                   END AS search_name,
                   x.region::varchar(32) AS region, x.municipality::varchar(32) AS municipality,
                   x.organisation::varchar(32) AS organisation,
                   coalesce(x.position, {_literal(DEFAULT_POSITION)}) AS position,
                   ARRAY[{", ".join(f"x.i{k}" for k in range(len(self.items)))}]::numeric(8,2)[] AS item_points,
                   ARRAY[{", ".join(ks)}]::numeric(8,2)[] AS competency_points,
                   x.total::numeric(8,2) AS total_points, {fmt_points(ins.max_total)}::numeric(8,2) AS max_points,
                   ({_literal(percents)}::numeric[])[x.total + 1]::numeric(5,2) AS percent,
                   ({by_level([_literal(v) for v in cuts.levels])})::varchar(16) AS level,
                   ({by_level([str(g) for g in range(1, len(cuts.levels) + 1)])})::smallint AS grp,
                   'computed'::varchar(16) AS level_source,
                   {codes("{k} < {d}")} AS deficit_codes,
                   {codes("{k} >= {d} AND {k} < {s}")} AS growth_codes,
                   {codes("{k} >= {s}")} AS strength_codes
            FROM (
                SELECT c.*, {" + ".join(f"c.k{j}" for j in range(n_comp))} AS total
                FROM (
                    SELECT i.*, {comp}
                    FROM (
                        SELECT r.row_no, {self.ext} AS external_id, {self.name} AS full_name, o.region,
                               {self.mun} AS municipality, {self.org} AS organisation, {self.position} AS position,
                               {points}
                        {self._from()}
                        OFFSET 0
                    ) i
                    OFFSET 0
                ) c
                OFFSET 0
            ) x"""


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


# --- reading results -------------------------------------------------------------------------------

RESULT_COLUMNS = (
    results.c.id,
    results.c.campaign_id,
    results.c.teacher_id,
    results.c.framework_id,
    results.c.item_points,
    results.c.competency_points,
    results.c.total_points,
    results.c.max_points,
    results.c.percent,
    results.c.level,
    results.c.grp,
    results.c.level_source,
    results.c.version,
    results.c.created_at,
    results.c.updated_at,
    campaigns.c.name.label("campaign_name"),
    campaigns.c.source.label("campaign_source"),
    campaigns.c.subject,
    campaigns.c.assessed_on,
    campaigns.c.instrument,
    frameworks.c.code.label("framework_code"),
    frameworks.c.version.label("framework_version"),
    teachers.c.external_id,
    teachers.c.region,
    teachers.c.municipality_code.label("municipality"),
    teachers.c.organisation_code.label("organisation"),
)


def _result_select(principal: Principal) -> Select[Any]:
    return (
        select(*RESULT_COLUMNS)
        .select_from(results)
        .join(campaigns, campaigns.c.id == results.c.campaign_id)
        .join(frameworks, frameworks.c.id == results.c.framework_id)
        .join(teachers, teachers.c.id == results.c.teacher_id)
        .where(teacher_scope_clause(principal))
    )


class ResultRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, principal: Principal, result_id: uuid.UUID) -> dict[str, Any] | None:
        r = (await self.s.execute(_result_select(principal).where(results.c.id == result_id))).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        campaign_id: uuid.UUID | None,
        subject: str | None,
        municipality: str | None,
        organisation: str | None,
        level: str | None,
        teacher_id: uuid.UUID | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = _result_select(principal)
        if campaign_id:
            q = q.where(results.c.campaign_id == campaign_id)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if municipality:
            q = q.where(teachers.c.municipality_code == municipality)
        if organisation:
            q = q.where(teachers.c.organisation_code == organisation)
        if level:
            q = q.where(results.c.level == level)
        if teacher_id:
            q = q.where(results.c.teacher_id == teacher_id)
        if after is not None:
            q = q.where(results.c.id > after)
        q = q.order_by(results.c.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def of_teacher(self, principal: Principal, teacher_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            _result_select(principal)
            .where(results.c.teacher_id == teacher_id)
            .order_by(campaigns.c.assessed_on, campaigns.c.created_at, results.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def changes(self, principal: Principal, after: tuple[int, int], limit: int) -> list[dict[str, Any]]:
        """Committed changes after the cursor, in (transaction, sequence) order.

        Only changes of transactions older than the oldest running one are read: a transaction that
        is still open may commit later with a smaller position, and must not be overtaken.
        """
        horizon = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
        q = (
            select(
                result_changes.c.seq,
                result_changes.c.txid,
                result_changes.c.changed_at,
                *RESULT_COLUMNS,
                teachers.c.full_name,
                teachers.c.position,
                teachers.c.subjects.label("teacher_subjects"),
                teachers.c.qualification_category,
                teachers.c.experience_years,
            )
            .select_from(result_changes)
            .join(results, results.c.id == result_changes.c.result_id)
            .join(campaigns, campaigns.c.id == results.c.campaign_id)
            .join(frameworks, frameworks.c.id == results.c.framework_id)
            .join(teachers, teachers.c.id == results.c.teacher_id)
            .where(
                tuple_(result_changes.c.txid, result_changes.c.seq) > tuple_(after[0], after[1]),
                result_changes.c.txid < horizon,
            )
            .order_by(result_changes.c.txid, result_changes.c.seq)
            .limit(limit)
        )
        if principal.region:
            q = q.where(teachers.c.region == principal.region)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def previous_in_subject(self, principal: Principal, teacher_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """All results of these teachers (for the change since the previous campaign)."""
        if not teacher_ids:
            return []
        q = (
            _result_select(principal)
            .where(results.c.teacher_id.in_(list(set(teacher_ids))))
            .order_by(campaigns.c.assessed_on, campaigns.c.created_at, results.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]


# --- analytics -------------------------------------------------------------------------------------


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _scoped(
        self,
        principal: Principal,
        *,
        campaign_id: uuid.UUID | None,
        subject: str | None,
        year: int | None,
        municipality: str | None,
        organisation: str | None,
    ) -> Select[Any]:
        year_col = func.extract("year", campaigns.c.assessed_on).cast(type_=results.c.grp.type).label("year")
        q = (
            select(
                results.c.teacher_id,
                results.c.campaign_id,
                results.c.level,
                results.c.grp,
                results.c.deficit_codes,
                results.c.competency_points,
                results.c.framework_id,
                campaigns.c.subject,
                campaigns.c.assessed_on,
                campaigns.c.name.label("campaign_name"),
                year_col,
                teachers.c.municipality_code.label("municipality"),
            )
            .select_from(results)
            .join(campaigns, campaigns.c.id == results.c.campaign_id)
            .join(teachers, teachers.c.id == results.c.teacher_id)
            .where(teacher_scope_clause(principal), visible_region(campaigns.c.region, principal))
        )
        if campaign_id:
            q = q.where(results.c.campaign_id == campaign_id)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if year:
            q = q.where(campaigns.c.assessed_on >= date(year, 1, 1), campaigns.c.assessed_on <= date(year, 12, 31))
        if municipality:
            q = q.where(teachers.c.municipality_code == municipality)
        if organisation:
            q = q.where(teachers.c.organisation_code == organisation)
        return q

    def _latest(self, q: Select[Any], *partition: str) -> Any:
        """Keep each partition's latest result (by assessment date, then campaign creation)."""
        sub = q.add_columns(campaigns.c.created_at.label("campaign_created")).subquery()
        cols = [sub.c[p] for p in partition]
        return (
            select(sub)
            .distinct(*cols)
            .order_by(*cols, sub.c.assessed_on.desc(), sub.c.campaign_created.desc())
            .subquery()
        )

    async def level_counts(self, principal: Principal, group_by: str, **filters: Any) -> list[dict[str, Any]]:
        base = self._scoped(principal, **filters)
        if group_by == "campaign":
            sub = base.subquery()
            key = sub.c.campaign_id
            label = sub.c.campaign_name
        else:
            sub = self._latest(base, "teacher_id", "subject")
            key = sub.c.subject if group_by == "subject" else sub.c.municipality
            label = key
        q = select(key.label("key"), func.min(label).label("label"), sub.c.level, func.count().label("n")).group_by(
            key, sub.c.level
        )
        rows = [dict(r._mapping) for r in await self.s.execute(q)]
        if group_by == "municipality" and rows:
            names = dict(
                (
                    await self.s.execute(
                        select(municipalities.c.code, municipalities.c.name).where(
                            municipalities.c.code.in_({r["key"] for r in rows})
                        )
                    )
                ).all()
            )
            for r in rows:
                r["label"] = names.get(r["key"], r["key"])
        return rows

    async def yearly_groups(self, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject", "year")
        q = select(sub.c.subject, sub.c.year, sub.c.grp, func.count().label("n")).group_by(
            sub.c.subject, sub.c.year, sub.c.grp
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def deficit_counts(
        self, principal: Principal, **filters: Any
    ) -> tuple[list[dict[str, Any]], dict[str, int], set[uuid.UUID]]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject")
        measured = sub.c.competency_points != text("'{}'::numeric[]")
        assessed: dict[Any, Any] = dict(
            (await self.s.execute(select(sub.c.subject, func.count()).where(measured).group_by(sub.c.subject))).all()
        )
        code = func.unnest(sub.c.deficit_codes).label("code")
        inner = select(sub.c.subject, code).subquery()
        q = select(inner.c.subject, inner.c.code, func.count().label("n")).group_by(inner.c.subject, inner.c.code)
        rows = [dict(r._mapping) for r in await self.s.execute(q)]
        fws = {r.framework_id for r in await self.s.execute(select(sub.c.framework_id).distinct())}
        return rows, {str(k): int(v) for k, v in assessed.items()}, fws

    async def deficit_demand(self, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
        """Per municipality and subject: teachers whose latest result there has at least one deficit."""
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject")
        has_deficit = func.cardinality(sub.c.deficit_codes) > 0
        q = (
            select(
                sub.c.municipality,
                sub.c.subject,
                func.count().filter(has_deficit).label("teachers"),
                func.count().label("assessed"),
            )
            .group_by(sub.c.municipality, sub.c.subject)
            .order_by(sub.c.municipality, sub.c.subject)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def kpi(self, principal: Principal, **filters: Any) -> tuple[int, int]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id")
        r = (await self.s.execute(select(func.count(), func.count().filter(sub.c.grp >= 2)).select_from(sub))).one()
        return int(r[0]), int(r[1])

    async def registered(
        self, principal: Principal, *, subject: str | None, municipality: str | None, organisation: str | None
    ) -> int:
        q = select(func.count()).select_from(teachers).where(teacher_scope_clause(principal))
        if subject:
            q = q.where(teachers.c.subjects.contains([subject]))
        if municipality:
            q = q.where(teachers.c.municipality_code == municipality)
        if organisation:
            q = q.where(teachers.c.organisation_code == organisation)
        return int((await self.s.execute(q)).scalar_one())
