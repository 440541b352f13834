"""The teacher registry's writes: register, change, bulk upsert by external id (scope checked per row)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from kit.versioning import ensure_current, require_if_match
from services.assessment.repositories.directory import DirectoryRepository
from services.assessment.repositories.teachers import TeacherRepository
from services.assessment.schemas import BulkResult, TeacherBulk, TeacherCreate, TeacherUpdate
from services.assessment.vocab import normalize_name


async def placement(
    session: Any, principal: Principal, organisation: str, municipality: str, *, row: int | None = None
) -> str:
    """Check the organisation exists, belongs to the municipality and is in the writer's scope; return region."""
    orgs = await DirectoryRepository(session).organisations_by_code([organisation])
    return check_placement(orgs, principal, organisation, municipality, row=row)


def check_placement(
    orgs: dict[str, dict[str, Any]], principal: Principal, organisation: str, municipality: str, *, row: int | None
) -> str:
    org = orgs.get(organisation)
    loc: list[str | int] = ["body", "teachers", row - 1] if row else ["body"]
    if org is None or org["municipality_code"] != municipality:
        raise ValidationFailed(
            "Образовательная организация не найдена или не относится к указанному муниципалитету",
            errors=[
                FieldError(
                    loc=[*loc, "organisation"],
                    code="unknown-organisation",
                    message="Образовательная организация не найдена или относится к другому муниципалитету",
                    row=row,
                    column="organisation",
                )
            ],
        )
    if not principal.sees(region=org["region"], municipality=municipality, organisation=organisation, teacher_id=None):
        raise Forbidden(OUT_OF_SCOPE, code="out-of-scope")
    return str(org["region"])


OUT_OF_SCOPE = "Педагог оказался бы вне вашей зоны доступа"
STALE_TEACHER_DETAIL = (
    "Данные педагога изменились с тех пор, как вы их прочитали: прочитайте их заново и повторите изменение"
)


def sees_registered(principal: Principal, now: dict[str, Any]) -> bool:
    """Whether the caller sees where a registered teacher is now."""
    return principal.sees(
        region=now["region"],
        municipality=now["municipality_code"],
        organisation=now["organisation_code"],
        teacher_id=str(now["id"]),
    )


async def create_teacher(session: AsyncSession, principal: Principal, body: TeacherCreate) -> dict[str, Any]:
    """Register a teacher. An external id registered where the caller cannot see answers like a placement
    outside the caller's scope (403), so the answer never tells that a teacher exists elsewhere."""
    region = await placement(session, principal, body.organisation, body.municipality)
    repo = TeacherRepository(session)
    now = (await repo.placements([body.external_id])).get(body.external_id)
    if now is not None and not sees_registered(principal, now):
        raise Forbidden(OUT_OF_SCOPE, code="out-of-scope")
    if now is not None:
        raise Conflict("Педагог с таким кодом уже есть", code="external-id-taken")
    return await repo.insert(_row_values(body, region))


async def get_teacher(session: AsyncSession, principal: Principal, teacher_id: uuid.UUID) -> dict[str, Any]:
    """The teacher in the caller's scope, or 404."""
    row = await TeacherRepository(session).get(principal, teacher_id)
    if row is None:
        raise NotFound("Педагог не найден", code="teacher-not-found")
    return row


async def _changed_values(
    session: AsyncSession, principal: Principal, current: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """The stored columns a partial update changes (a new placement is checked like a registration)."""
    values: dict[str, Any] = {}
    if "municipality" in changes or "organisation" in changes:
        mun = changes.get("municipality", current["municipality"])
        org = changes.get("organisation", current["organisation"])
        values["region"] = await placement(session, principal, org, mun)
        values["municipality_code"], values["organisation_code"] = mun, org
    if "full_name" in changes:
        values["full_name"] = changes["full_name"]
        values["search_name"] = normalize_name(changes["full_name"])
    for f in ("position", "qualification_category", "experience_years", "birth_year"):
        if f in changes:
            values[f] = changes[f]
    if "subjects" in changes:
        values["subjects"] = [str(s) for s in changes["subjects"]]
    return values


async def update_teacher(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID, body: TeacherUpdate, if_match: str | None
) -> dict[str, Any]:
    """Change registry fields; If-Match required (428 without, 412 when it names an older version)."""
    current = await get_teacher(session, principal, teacher_id)
    expected = require_if_match(if_match)
    values = await _changed_values(session, principal, current, body.model_dump(exclude_unset=True, exclude_none=True))
    if not values:
        ensure_current(expected, current["version"], STALE_TEACHER_DETAIL)
        return current
    row = await TeacherRepository(session).update(teacher_id, values, expected)
    if row is None:
        raise PreconditionFailed(STALE_TEACHER_DETAIL, code="stale-version")
    return row


def _duplicates(body: TeacherBulk) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(body.teachers, start=1):
        if t.external_id in seen:
            errors.append(
                FieldError(
                    loc=["body", "teachers", i - 1, "external_id"],
                    code="duplicate-in-batch",
                    message=f"Код педагога повторяет строку {seen[t.external_id]}",
                    row=i,
                    column="external_id",
                )
            )
        else:
            seen[t.external_id] = i
    return errors


async def bulk_upsert_teachers(session: AsyncSession, principal: Principal, body: TeacherBulk) -> BulkResult:
    """Create or update every teacher of the batch, or nothing: every bad row is reported."""
    errors = _duplicates(body)
    orgs = await DirectoryRepository(session).organisations_by_code([t.organisation for t in body.teachers])
    repo = TeacherRepository(session)
    # A registered teacher changes only in the hands of someone who sees where the teacher is now: a
    # school (or another region) cannot claim a teacher, and with them their assessment history.
    existing = await repo.placements([t.external_id for t in body.teachers])
    rows: list[dict[str, Any]] = []
    # A teacher registered outside the caller's scope and a row placed outside it get one and the same
    # row error: the answer never tells that a teacher exists elsewhere.
    for i, t in enumerate(body.teachers, start=1):
        now = existing.get(t.external_id)
        try:
            if now is not None and not sees_registered(principal, now):
                raise Forbidden(OUT_OF_SCOPE, code="out-of-scope")
            region = check_placement(orgs, principal, t.organisation, t.municipality, row=i)
        except ValidationFailed as e:
            errors.extend(e.errors or [])
            continue
        except Forbidden:
            errors.append(_out_of_scope_row(i))
            continue
        rows.append(_row_values(t, region))
    if errors:
        raise ValidationFailed(f"Отклонено строк: {len({e.row for e in errors})}; ничего не сохранено", errors=errors)
    inserted, updated = await repo.bulk_upsert(rows)
    return BulkResult(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)


def _out_of_scope_row(i: int) -> FieldError:
    return FieldError(
        loc=["body", "teachers", i - 1, "external_id"],
        code="teacher-out-of-scope",
        message="Педагог зарегистрирован (или был бы зарегистрирован) вне вашей зоны доступа",
        row=i,
        column="external_id",
    )


def _row_values(t: TeacherCreate, region: str) -> dict[str, Any]:
    return {
        "external_id": t.external_id,
        "full_name": t.full_name,
        "search_name": normalize_name(t.full_name),
        "region": region,
        "municipality_code": t.municipality,
        "organisation_code": t.organisation,
        "position": t.position,
        "subjects": [str(s) for s in t.subjects],
        "qualification_category": str(t.qualification_category),
        "experience_years": t.experience_years,
        "birth_year": t.birth_year,
    }
