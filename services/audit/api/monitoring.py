"""Monitoring of municipalities: campaigns, score uploads, the regional analysis, XLSX report and chart."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.idempotency import IDEMPOTENCY_HEADER
from kit.pagination import MAX_LIMIT
from services.audit.auth import MonitoringReader, MonitoringRunner, ScoreLoader
from services.audit.deps import Municipalities, Settings
from services.audit.report import SVG_MEDIA_TYPE, XLSX_MEDIA_TYPE
from services.audit.schemas import (
    SCORE_ROW_EXAMPLE,
    CampaignCreate,
    CampaignPage,
    CampaignRead,
    MonitoringVocabulary,
    ReportRead,
    ScorePage,
    ScoreUpload,
    UploadResult,
)
from services.audit.service import monitoring as service
from services.audit.service.monitoring import ScoreUploadRequest

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=problem_responses(401, 403, 422))

UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ScoreUpload.model_json_schema(), "example": {"rows": [SCORE_ROW_EXAMPLE]}},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "municipality;municipality_name;goals;indicators;methods;monitoring;analysis;"
                "recommendations;measures;decisions;effectiveness;total\n"
                "mo-01;Городской округ Северный;15;7;2;10;9,5;6;14;2;1;66,5\n",
            },
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "maxLength": 200},
            "description": "Same key and body replays the first answer; same key, other body is 422",
        }
    ],
}


@router.get("/steps", response_model=MonitoringVocabulary, summary="The nine steps, their maximum points, bands")
async def monitoring_vocabulary(principal: CurrentPrincipal) -> dict[str, Any]:
    return service.vocabulary()


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    summary="Open a monitoring campaign of the region",
    responses=problem_responses(404, 409),
)
async def create_campaign(
    body: CampaignCreate, principal: MonitoringRunner, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_campaign(session, principal, body)
    response.headers["Location"] = f"/api/v1/monitoring/campaigns/{row['id']}"
    return row


@router.get("/campaigns", response_model=CampaignPage, summary="Campaigns of your region, latest first")
async def list_campaigns(
    principal: MonitoringReader,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_campaigns(session, principal, cursor, limit)


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignRead, summary="Read a campaign", responses=problem_responses(404)
)
async def get_campaign(campaign_id: uuid.UUID, principal: MonitoringReader, session: DbSession) -> dict[str, Any]:
    return await service.get_campaign(session, principal, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/scores",
    response_model=UploadResult,
    summary="Load municipalities' scores on the nine steps (JSON, CSV or XLSX; all rows or none)",
    responses=problem_responses(400, 404, 409, 413, 415, 503),
    openapi_extra=UPLOAD_OPENAPI,
)
async def upload_scores(
    campaign_id: uuid.UUID,
    principal: ScoreLoader,
    session: DbSession,
    settings: Settings,
    municipalities: Municipalities,
    request: Request,
    replace: bool = Query(default=False, description="Also remove municipalities missing from this upload"),
    idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, include_in_schema=False),
) -> Response:
    upload = ScoreUploadRequest(
        body=await request.body(),
        content_type=request.headers.get("content-type"),
        replace=replace,
        idempotency_key=idempotency_key,
    )
    return await service.upload_scores(session, municipalities, settings, principal, campaign_id, upload)


@router.get(
    "/campaigns/{campaign_id}/scores",
    response_model=ScorePage,
    summary="Scores with percents, bands and change (a municipal methodologist sees their own row)",
    responses=problem_responses(404),
)
async def list_scores(
    campaign_id: uuid.UUID,
    principal: MonitoringReader,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_scores(session, principal, campaign_id, cursor, limit)


@router.get(
    "/campaigns/{campaign_id}/report",
    response_model=ReportRead,
    summary="The regional analysis as JSON: steps, top deficits, not engaged, leaders, change",
    responses=problem_responses(404),
)
async def monitoring_report(campaign_id: uuid.UUID, principal: MonitoringReader, session: DbSession) -> dict[str, Any]:
    return await service.report(session, principal, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/report.xlsx",
    summary="The regional report as an XLSX workbook",
    response_class=Response,
    responses={
        200: {
            "content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The workbook",
        },
        **problem_responses(404),
    },
)
async def monitoring_report_xlsx(campaign_id: uuid.UUID, principal: MonitoringReader, session: DbSession) -> Response:
    data, filename = await service.report_xlsx(session, principal, campaign_id)
    return Response(
        data, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/campaigns/{campaign_id}/chart.svg",
    summary="Chart of the region's percent per step (SVG)",
    response_class=Response,
    responses={
        200: {"content": {SVG_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "The chart"},
        **problem_responses(404),
    },
)
async def monitoring_chart(campaign_id: uuid.UUID, principal: MonitoringReader, session: DbSession) -> Response:
    return Response(await service.chart(session, principal, campaign_id), media_type=SVG_MEDIA_TYPE)
