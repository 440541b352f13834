"""The SQL of the results stage: its table, the upsert from it, and the checks and scoring of a COPied CSV."""

from __future__ import annotations

import math

from services.assessment.intake import (
    DEFAULT_POSITION,
    PY_WHITESPACE,
    CsvLayout,
    fmt_points,
)
from services.assessment.scoring import Instrument, WholePointCuts

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
