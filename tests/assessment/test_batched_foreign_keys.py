"""Keys checked once per statement (migration 0003) hold like declared foreign keys, concurrency included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from kit.dbadmin import asyncpg_dsn
from tests.assessment.intake_support import setup_intake
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_B1, REGION

NEW_TEACHER = (
    "INSERT INTO assessment.teachers (external_id, full_name, search_name, region, municipality_code, "
    "organisation_code, position) VALUES ($1, 'Учитель', 'учитель', $2, $3, $4, 'учитель')"
)
NEW_RESULT = (
    "INSERT INTO assessment.results (campaign_id, teacher_id, framework_id, total_points, max_points, percent, "
    "level, grp) VALUES ($1, $2, $3, 1, 10, 10, 'low', 1)"
)
FK = asyncpg.ForeignKeyViolationError


@pytest.fixture
async def other(admin_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second administrative connection, for the concurrent side of a race."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        yield conn
    finally:
        await conn.close()


async def add_school(db: asyncpg.Connection, code: str = "oo-new") -> str:
    await db.execute("INSERT INTO assessment.organisations (code, name, municipality_code) VALUES ($1, 'Школа', $2)",
                     code, MUN_A)
    return code


class TestChildRows:
    async def test_a_teacher_of_an_unknown_school_or_municipality_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await setup_intake(api)
        with pytest.raises(FK):
            await db.execute(NEW_TEACHER, "x-1", REGION, MUN_A, "oo-none")
        with pytest.raises(FK):
            await db.execute(NEW_TEACHER, "x-1", REGION, "mo-none", ORG_A1)
        await db.execute(NEW_TEACHER, "x-1", REGION, MUN_A, ORG_A1)

    async def test_one_bad_row_refuses_the_whole_batch(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await setup_intake(api)
        records: list[tuple[Any, ...]] = [(f"x-{i}", "Учитель", "учитель", REGION, MUN_A, ORG_A1, "учитель")
                                          for i in range(500)]
        records[250] = ("x-250", "Учитель", "учитель", REGION, MUN_A, "oo-none", "учитель")
        columns = ["external_id", "full_name", "search_name", "region", "municipality_code", "organisation_code",
                   "position"]
        with pytest.raises(FK):
            await db.copy_records_to_table("teachers", schema_name="assessment", records=records, columns=columns)
        assert await db.fetchval("SELECT count(*) FROM assessment.teachers WHERE external_id LIKE 'x-%'") == 0

    async def test_moving_a_teacher_to_an_unknown_school_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await setup_intake(api)
        with pytest.raises(FK):
            await db.execute("UPDATE assessment.teachers SET organisation_code = 'oo-none' "
                             "WHERE external_id = 't-a1-1'")
        await db.execute("UPDATE assessment.teachers SET municipality_code = $1, organisation_code = $2 "
                         "WHERE external_id = 't-a1-1'", MUN_B, ORG_B1)

    async def test_a_result_of_an_unknown_campaign_or_framework_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        it = await setup_intake(api)
        teacher = uuid.UUID(it.region.id("t-a1-1"))
        campaign, framework = uuid.UUID(it.campaign_id), uuid.UUID(str(it.framework["id"]))
        with pytest.raises(FK):
            await db.execute(NEW_RESULT, uuid.uuid4(), teacher, framework)
        with pytest.raises(FK):
            await db.execute(NEW_RESULT, campaign, teacher, uuid.uuid4())
        await db.execute(NEW_RESULT, campaign, teacher, framework)
        with pytest.raises(FK):
            await db.execute("UPDATE assessment.results SET framework_id = $1", uuid.uuid4())


class TestParentRows:
    async def test_a_referenced_parent_cannot_be_deleted(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        # Parents that only the checked keys refer to (declared keys would answer for the others): a
        # municipality with no school, a framework version no campaign uses, a campaign with no upload.
        await db.execute("INSERT INTO assessment.municipalities (code, name, region) VALUES ('mo-new', 'Округ', $1)",
                         REGION)
        await db.execute(NEW_TEACHER, "x-1", REGION, "mo-new", ORG_A1)
        framework = await db.fetchval(
            "INSERT INTO assessment.frameworks (region, code, version, name, document) "
            "SELECT region, code, version + 1, name, document FROM assessment.frameworks WHERE id = $1 RETURNING id",
            uuid.UUID(str(it.framework["id"])))
        await db.execute(NEW_RESULT, uuid.UUID(it.campaign_id), uuid.UUID(it.region.id("t-a1-1")), framework)
        for sql, arg in (("DELETE FROM assessment.organisations WHERE code = $1", ORG_A1),
                         ("DELETE FROM assessment.municipalities WHERE code = $1", "mo-new"),
                         ("DELETE FROM assessment.campaigns WHERE id = $1", uuid.UUID(it.campaign_id)),
                         ("DELETE FROM assessment.frameworks WHERE id = $1", framework)):
            with pytest.raises(FK, match=r"violates foreign key \("):
                await db.execute(sql, arg)
        await add_school(db)
        assert await db.execute("DELETE FROM assessment.organisations WHERE code = 'oo-new'") == "DELETE 1"

    async def test_a_referenced_key_cannot_change(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await setup_intake(api)
        with pytest.raises(FK):
            await db.execute("UPDATE assessment.organisations SET code = 'oo-moved' WHERE code = $1", ORG_A1)
        await db.execute("UPDATE assessment.organisations SET name = 'Новое имя' WHERE code = $1", ORG_A1)

    async def test_a_referenced_parent_cannot_be_truncated_alone(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await setup_intake(api)
        with pytest.raises(FK):
            await db.execute("TRUNCATE assessment.organisations")
        await db.execute("TRUNCATE assessment.organisations, assessment.teachers CASCADE")


class TestRaces:
    async def test_a_teacher_waits_for_a_school_being_deleted_then_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        await setup_intake(api)
        code = await add_school(db)
        deleting = other.transaction()
        await deleting.start()
        await other.execute("DELETE FROM assessment.organisations WHERE code = $1", code)
        insert = asyncio.create_task(db.execute(NEW_TEACHER, "x-1", REGION, MUN_A, code))
        await asyncio.sleep(0.5)
        assert not insert.done()  # the check waits for the deleting transaction
        await deleting.commit()
        with pytest.raises(FK):
            await insert

    async def test_a_school_delete_waits_for_a_new_teacher_then_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        await setup_intake(api)
        code = await add_school(db)
        inserting = other.transaction()
        await inserting.start()
        await other.execute(NEW_TEACHER, "x-1", REGION, MUN_A, code)
        delete = asyncio.create_task(db.execute("DELETE FROM assessment.organisations WHERE code = $1", code))
        await asyncio.sleep(0.5)
        assert not delete.done()  # the new teacher's check holds the school FOR KEY SHARE
        await inserting.commit()
        with pytest.raises(FK):
            await delete
