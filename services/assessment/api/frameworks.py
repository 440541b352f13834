"""Competency frameworks as data: competencies, instruments with items, thresholds, level cut scores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import NotFound, problem_responses
from services.assessment.auth import FrameworkManager
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.result_schemas import FrameworkCreate, FrameworkRead, FrameworkSummary
from services.assessment.service import frameworks as service

router = APIRouter(prefix="/api/v1/frameworks", tags=["frameworks"], responses=problem_responses(401, 403, 422))

FRAMEWORK_DOC = """Store a competency framework. Storing an existing `code` again creates its next version;
stored versions never change, and results keep the version they were scored with (a campaign can be
rescored with a corrected version: `POST /api/v1/campaigns/{id}/rescore`).

Bands of a competency's percent: below `thresholds.deficit_below` a **deficit**, from
`thresholds.strength_from` on a **strength** (точка опоры), in between a **growth point**. Levels
(low / basic / elevated / high = support groups 1..4) are cut on the total percent: a result gets
the highest level whose `min_percent` it reaches. Item codes are also the upload column names.
The shipped default framework is `services/assessment/data/default_framework.json`."""


def summary(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "instruments": [i["code"] for i in row["document"].get("instruments", [])]}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FrameworkRead,
    summary="Store a framework (a new version when the code exists)",
    description=FRAMEWORK_DOC,
)
async def create_framework(
    body: FrameworkCreate, principal: FrameworkManager, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_framework(session, principal, body)
    response.headers["Location"] = f"/api/v1/frameworks/{row['code']}/versions/{row['version']}"
    return summary(row)


@router.get("", response_model=list[FrameworkSummary], summary="List frameworks and their versions")
async def list_frameworks(
    principal: CurrentPrincipal, session: DbSession, code: str | None = Query(default=None, max_length=32)
) -> list[dict[str, Any]]:
    return [summary(r) for r in await FrameworkRepository(session).search(principal, code)]


@router.get(
    "/{code}",
    response_model=FrameworkRead,
    summary="Read the latest version of a framework",
    responses=problem_responses(404),
)
async def get_latest_framework(code: str, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    row = await FrameworkRepository(session).get(principal, code, None)
    if row is None:
        raise NotFound("Модель компетенций не найдена", code="framework-not-found")
    return summary(row)


@router.get(
    "/{code}/versions/{version}",
    response_model=FrameworkRead,
    summary="Read one framework version",
    responses=problem_responses(404),
)
async def get_framework_version(
    code: str,
    principal: CurrentPrincipal,
    session: DbSession,
    # Versions are a PostgreSQL integer: a larger number is a 422, not a failed query (500).
    version: int = Path(ge=1, le=2_147_483_647),
) -> dict[str, Any]:
    row = await FrameworkRepository(session).get(principal, code, version)
    if row is None:
        raise NotFound("Такой версии модели компетенций нет", code="framework-not-found")
    return summary(row)
