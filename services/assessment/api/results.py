"""Scored results with explained deficits, and a teacher's assessment profile over time."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import NotFound, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor, key_id
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.results import ResultRepository
from services.assessment.repositories.teachers import TeacherRepository
from services.assessment.result_schemas import ResultPage, ResultRead, TeacherProfile
from services.assessment.scoring import Level
from services.assessment.views import attach_changes, present_result
from services.assessment.vocab import Subject

router = APIRouter(prefix="/api/v1", tags=["results"], responses=problem_responses(401, 403, 422))


async def present_all(session: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fws = FrameworkRepository(session)
    return [present_result(r, await fws.scoring(r["framework_id"])) for r in rows]


@router.get("/results", response_model=ResultPage, summary="List results in your scope (keyset pages)")
async def list_results(
    principal: CurrentPrincipal,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    level: Level | None = None,
    teacher_id: uuid.UUID | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_id])
    after_id = after[0] if after else None
    rows = await ResultRepository(session).search(
        principal,
        campaign_id=campaign_id,
        subject=subject.value if subject else None,
        municipality=municipality,
        organisation=organisation,
        level=level.value if level else None,
        teacher_id=teacher_id,
        after=after_id,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([str(rows[-1]["id"])])
    return {"items": await present_all(session, rows), "next_cursor": next_cursor}


@router.get(
    "/results/{result_id}",
    response_model=ResultRead,
    summary="Read a result: competency scores, level, explained deficits and strengths, change",
    responses=problem_responses(404),
)
async def get_result(
    result_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    repo = ResultRepository(session)
    row = await repo.get(principal, result_id)
    if row is None:
        raise NotFound("Результат не найден", code="result-not-found")
    history = await present_all(session, await repo.of_teacher(principal, row["teacher_id"]))
    attach_changes(history)
    response.headers["ETag"] = f'"{row["version"]}"'
    return next(r for r in history if r["id"] == result_id)


@router.get(
    "/teachers/{teacher_id}/profile",
    response_model=TeacherProfile,
    summary="A teacher's assessment profile: results over time, current level per subject, deficits, strengths",
    responses=problem_responses(404),
)
async def get_teacher_profile(teacher_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    teacher = await TeacherRepository(session).get(principal, teacher_id)
    if teacher is None:
        raise NotFound("Педагог не найден", code="teacher-not-found")
    history = await present_all(session, await ResultRepository(session).of_teacher(principal, teacher_id))
    attach_changes(history)
    latest: dict[str, dict[str, Any]] = {}
    for r in history:
        latest[r["campaign"]["subject"]] = r
    current = [
        {
            "subject": subject,
            "result_id": r["id"],
            "campaign_id": r["campaign"]["id"],
            "assessed_on": r["campaign"]["assessed_on"],
            "level": r["level"],
            "group": r["group"],
            "percent": r["percent"],
            "deficits": r["deficits"],
            "strengths": r["strengths"],
            "change": r["change"],
        }
        for subject, r in sorted(latest.items())
    ]
    return {
        "teacher_id": teacher["id"],
        "external_id": teacher["external_id"],
        "full_name": teacher["full_name"],
        "municipality": teacher["municipality"],
        "organisation": teacher["organisation"],
        "subjects": teacher["subjects"],
        "current": current,
        "results": history,
    }
