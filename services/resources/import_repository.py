"""The upserts of the catalogue and mentor imports: COPY into a temp table, then one INSERT ... ON CONFLICT."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.active_repository import IMPORT_MEMBERS_SQL, MEMBER_OF_TEMP_ROW
from services.resources.repository import copy_rows

# The temp tables' columns with their types, in the order of `imports.resource_record` / `mentor_record`.
RESOURCE_IMPORT = (
    ("region", "varchar(32)"),
    ("external_id", "varchar(64)"),
    ("kind", "varchar(32)"),
    ("event_format", "varchar(32)"),
    ("title", "text"),
    ("description", "text"),
    ("provider", "text"),
    ("hours", "integer"),
    ("federal_registry", "boolean"),
    ("competencies", "varchar(32)[]"),
    ("subjects", "varchar(32)[]"),
    ("levels", "smallint[]"),
    ("learning_type", "varchar(16)"),
    ("mode", "varchar(16)"),
    ("municipalities", "varchar(32)[]"),
    ("starts_on", "date"),
    ("ends_on", "date"),
    ("capacity", "integer"),
    ("url", "text"),
    ("owner_scope", "varchar(16)"),
    ("owner_municipality", "varchar(32)"),
    ("created_by", "varchar(200)"),
)
MENTOR_IMPORT = (
    ("region", "varchar(32)"),
    ("teacher_id", "uuid"),
    ("municipality", "varchar(32)"),
    ("role", "varchar(16)"),
    ("subjects", "varchar(32)[]"),
    ("competencies", "varchar(32)[]"),
    ("level", "smallint"),
    ("mode", "varchar(16)"),
    ("capacity", "integer"),
    ("joined_year", "smallint"),
    ("joined_assessment", "varchar(64)"),
)
RESOURCE_IMPORT_SQL = ", ".join(f"{c} {t}" for c, t in RESOURCE_IMPORT)
RESOURCE_IMPORT_COLUMNS = tuple(c for c, _t in RESOURCE_IMPORT)
MENTOR_IMPORT_SQL = ", ".join(f"{c} {t}" for c, t in MENTOR_IMPORT)
MENTOR_IMPORT_COLUMNS = tuple(c for c, _t in MENTOR_IMPORT)
# What a re-import changes: all but the key and what is set once (ownership, author, joining).
RESOURCE_UPDATED = tuple(
    c
    for c in RESOURCE_IMPORT_COLUMNS
    if c not in {"region", "external_id", "owner_scope", "owner_municipality", "created_by"}
)
MENTOR_UPDATED = tuple(
    c for c in MENTOR_IMPORT_COLUMNS if c not in {"region", "teacher_id", "joined_year", "joined_assessment"}
)


async def upsert_resources(session: AsyncSession, records: list[tuple[Any, ...]]) -> tuple[int, int]:
    """COPY into a temp table, then one upsert by (region, external_id); return (inserted, updated)."""
    temp = "tmp_resource_import"
    driver = await copy_rows(session, temp, RESOURCE_IMPORT_SQL, RESOURCE_IMPORT_COLUMNS, records)
    cols = ", ".join(RESOURCE_IMPORT_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in RESOURCE_UPDATED)
    changed = " OR ".join(f"r.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in RESOURCE_UPDATED)
    rows = await driver.fetch(
        f"INSERT INTO resources.resources AS r ({cols}) SELECT {cols} FROM {temp} "
        f"ON CONFLICT (region, external_id) DO UPDATE SET {sets}, version = r.version + 1, updated_at = now() "
        f"WHERE {changed} RETURNING r.version"
    )
    inserted = sum(1 for r in rows if r["version"] == 1)
    return inserted, len(rows) - inserted


async def upsert_mentors(
    session: AsyncSession, records: list[tuple[Any, ...]], recorded_by: str, this_year: int
) -> tuple[int, int]:
    """COPY into a temp table, upsert by (region, teacher_id), record `entered` for new mentors."""
    temp = "tmp_mentor_import"
    driver = await copy_rows(session, temp, MENTOR_IMPORT_SQL, MENTOR_IMPORT_COLUMNS, records)
    # Mentors are members of the methodological active: each imported teacher's member first.
    await driver.execute(IMPORT_MEMBERS_SQL.format(temp=temp), recorded_by)
    cols = ", ".join(MENTOR_IMPORT_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in MENTOR_UPDATED)
    changed = " OR ".join(f"m.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in MENTOR_UPDATED)
    rows = await driver.fetch(
        f"INSERT INTO resources.mentors AS m ({cols}, member_id) SELECT {cols}, {MEMBER_OF_TEMP_ROW} FROM {temp} t "
        f"ON CONFLICT (region, teacher_id) DO UPDATE SET {sets}, version = m.version + 1, updated_at = now() "
        f"WHERE {changed} RETURNING m.id, m.version, m.joined_year, m.joined_assessment"
    )
    new = [r for r in rows if r["version"] == 1]
    if new:
        await driver.executemany(
            "INSERT INTO resources.mentor_memberships (mentor_id, year, action, assessment, recorded_by) "
            "VALUES ($1, $2, 'entered', $3, $4)",
            [(r["id"], r["joined_year"] or this_year, r["joined_assessment"], recorded_by) for r in new],
        )
    return len(new), len(rows) - len(new)
