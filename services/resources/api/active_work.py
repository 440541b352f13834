"""The methodological active's summary for the region, expert work and training (issue 15, points 5-7); included
into the active's router (`api/active.py`, prefix /api/v1/active, tag active)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Header, Query, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.resources.active_summary_workbook import XLSX, summary_workbook
from services.resources.active_vocab import EnrolmentStatus, ExpertDuty
from services.resources.active_work_schemas import (
    ActiveSummary,
    AssignmentCreate,
    AssignmentPage,
    AssignmentRead,
    CompletionCreate,
    DutyCounts,
    EnrolmentCreate,
    EnrolmentPage,
    EnrolmentRead,
)
from services.resources.auth import ActiveKeeper, ActiveReporter
from services.resources.deps import Sources
from services.resources.service import active_summary, active_work
from services.resources.vocab import Subject

router = APIRouter()

YEAR = Query(default=None, ge=2000, le=2100, description="The year (the current one when absent)")


@router.get(
    "/summary",
    response_model=ActiveSummary,
    summary="The picture the region reports: members by subject and municipality, none, growth, need, monitoring",
    description="Members of the year (status member at any time in it) by subject and by every municipality of "
    "the directory (zeros included), the municipalities without members with their latest monitoring band, "
    "growth per subject over every year on record, the need (teachers in support groups 1-2 of the latest "
    "results against the members per subject and municipality), training and expert work. A part whose source "
    "cannot be read says so (available false, a note in Russian). Regional roles only.",
)
async def get_summary(
    principal: ActiveReporter, session: DbSession, sources: Sources, year: int | None = YEAR
) -> dict[str, Any]:
    return await active_summary.summary(session, principal, sources, year)


@router.get(
    "/summary.xlsx",
    summary="The same picture as an XLSX report (by subject, by municipality with zero rows highlighted, growth)",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_summary_workbook(
    principal: ActiveReporter, session: DbSession, sources: Sources, year: int | None = YEAR
) -> Response:
    result = await active_summary.summary(session, principal, sources, year)
    return Response(
        summary_workbook(result),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="active-summary-{result["year"]}.xlsx"'},
    )


@router.post(
    "/duties",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentRead,
    summary="Assign a member to an expert duty for a period with a load (never their own school's works)",
    responses=problem_responses(404),
)
async def create_assignment(principal: ActiveKeeper, session: DbSession, body: AssignmentCreate) -> dict[str, Any]:
    return await active_work.create_assignment(session, principal, body)


@router.get("/duties", response_model=AssignmentPage, summary="Expert assignments in your scope (keyset pages)")
async def list_assignments(
    principal: CurrentPrincipal,
    session: DbSession,
    member_id: uuid.UUID | None = None,
    duty: ExpertDuty | None = None,
    subject: Subject | None = None,
    municipality: str | None = Query(default=None, max_length=32),
    year: int | None = Query(default=None, ge=2000, le=2100, description="Assignments whose period meets it"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {"member_id": member_id, "duty": duty, "subject": subject, "municipality": municipality, "year": year}
    return await active_work.list_assignments(session, principal, filters, cursor, limit)


@router.get(
    "/duties/counts",
    response_model=DutyCounts,
    summary="Expert work counted per member, subject and duty (assignments and load) in your scope",
)
async def count_assignments(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    year: int | None = Query(default=None, ge=2000, le=2100, description="Assignments whose period meets it"),
) -> dict[str, Any]:
    return await active_work.duty_counts(session, principal, {"municipality": municipality, "year": year})


@router.get(
    "/duties/{assignment_id}",
    response_model=AssignmentRead,
    summary="Read an expert assignment",
    responses=problem_responses(404),
)
async def get_assignment(assignment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    return await active_work.get_assignment(session, principal, assignment_id)


@router.post(
    "/enrolments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolmentRead,
    summary="Enrol a member or candidate in a course of the region's resource map",
    responses=problem_responses(404, 409),
)
async def enrol(principal: ActiveKeeper, session: DbSession, body: EnrolmentCreate, response: Response) -> Any:
    row = await active_work.enrol(session, principal, body)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get("/enrolments", response_model=EnrolmentPage, summary="Enrolments in courses in your scope (keyset pages)")
async def list_enrolments(
    principal: CurrentPrincipal,
    session: DbSession,
    member_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    status_: EnrolmentStatus | None = Query(default=None, alias="status"),
    municipality: str | None = Query(default=None, max_length=32),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {"member_id": member_id, "resource_id": resource_id, "status": status_, "municipality": municipality}
    return await active_work.list_enrolments(session, principal, filters, cursor, limit)


@router.get(
    "/enrolments/{enrolment_id}",
    response_model=EnrolmentRead,
    summary="Read an enrolment (ETag for completing it)",
    responses=problem_responses(404),
)
async def get_enrolment(
    enrolment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await active_work.get_enrolment(session, principal, enrolment_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/enrolments/{enrolment_id}/complete",
    response_model=EnrolmentRead,
    summary="Mark an enrolment completed (If-Match required)",
    responses=problem_responses(404, 409, 412, 428),
)
async def complete_enrolment(
    enrolment_id: uuid.UUID,
    body: CompletionCreate,
    principal: ActiveKeeper,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await active_work.complete_enrolment(session, principal, enrolment_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row
