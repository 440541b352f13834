"""Monitoring of municipalities: campaigns, score uploads, the regional analysis, XLSX report and chart."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from kit.auth import CurrentPrincipal, Principal
from kit.db import DbSession
from kit.errors import Conflict, FieldError, NotFound, PayloadTooLarge, ValidationFailed, problem_responses
from kit.idempotency import IDEMPOTENCY_HEADER, IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps, loads
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.tabular import JSON_MEDIA_TYPES, media_type, read_table, records
from services.audit.api.common import (
    ANALYSTS,
    REGIONAL_WRITERS,
    ensure_role,
    own_municipality,
    settings_of,
    unknown_municipalities,
    writer_region,
)
from services.audit.models import idempotency_keys
from services.audit.monitoring import (
    REQUIRED_COLUMNS,
    ScoreRow,
    analyse,
    analysis_json,
    canonical_column,
    municipality_json,
    validate_rows,
)
from services.audit.report import SVG_MEDIA_TYPE, XLSX_MEDIA_TYPE, CampaignInfo, build_svg, build_xlsx
from services.audit.repository import MonitoringRepository
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
from services.audit.vocab import BAND_COLOURS, BAND_LABELS_RU, STEP_LABELS_RU, STEP_MAX, TOTAL_MAX, Band, Step

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=problem_responses(401, 403, 422))

BAND_EDGES = {Band.critical: (0, 29), Band.low: (30, 59), Band.medium: (60, 79), Band.high: (80, None)}

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
    return {
        "steps": [{"step": s, "label": STEP_LABELS_RU[s], "max": STEP_MAX[s]} for s in Step],
        "bands": [
            {
                "band": b,
                "label": BAND_LABELS_RU[b],
                "colour": BAND_COLOURS[b],
                "from_percent": BAND_EDGES[b][0],
                "to_percent": BAND_EDGES[b][1],
            }
            for b in Band
        ],
        "total_max": TOTAL_MAX,
    }


async def _campaign_or_404(repo: MonitoringRepository, principal: Principal, campaign_id: uuid.UUID) -> dict[str, Any]:
    row = await repo.get_campaign(principal.region, campaign_id)
    if row is None:
        raise NotFound("campaign not found", code="campaign-not-found")
    return row


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    summary="Open a monitoring campaign of the region",
    responses=problem_responses(404, 409),
)
async def create_campaign(
    body: CampaignCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    ensure_role(principal, REGIONAL_WRITERS, "run the monitoring")
    region = writer_region(principal, body.region)
    repo = MonitoringRepository(session)
    if body.previous_id is not None:
        prev = await repo.get_campaign(region, body.previous_id)
        if prev is None:
            raise NotFound("previous campaign not found", code="campaign-not-found")
    row = await repo.create_campaign(
        {
            "region": region,
            "code": body.code,
            "title": body.title,
            "held_on": body.held_on,
            "previous_id": body.previous_id,
            "created_by": principal.sub,
        }
    )
    if row is None:
        raise Conflict("the region already has a campaign with this code", code="campaign-code-taken")
    response.headers["Location"] = f"/api/v1/monitoring/campaigns/{row['id']}"
    return row


@router.get("/campaigns", response_model=CampaignPage, summary="Campaigns of your region, latest first")
async def list_campaigns(
    principal: CurrentPrincipal,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    after = decode_cursor(cursor, 2)
    try:
        key = (date.fromisoformat(str(after[0])).isoformat(), str(uuid.UUID(str(after[1])))) if after else None
    except ValueError:
        raise ValidationFailed("invalid cursor", code="invalid-cursor") from None
    rows = await MonitoringRepository(session).list_campaigns(principal.region, after=key, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["held_on"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignRead, summary="Read a campaign", responses=problem_responses(404)
)
async def get_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    return await _campaign_or_404(MonitoringRepository(session), principal, campaign_id)


def _upload_records(body: bytes, content_type: str | None, request: Request) -> list[tuple[int, dict[str, Any]]]:
    settings = settings_of(request)
    if media_type(content_type) in JSON_MEDIA_TYPES:
        try:
            doc = loads(body)
        except ValueError:
            raise ValidationFailed(
                "the body is not JSON", errors=[FieldError(loc=["body"], code="bad-json", message="not JSON")]
            ) from None
        if not isinstance(doc, dict) or set(doc) != {"rows"} or not isinstance(doc["rows"], list) or not doc["rows"]:
            raise ValidationFailed(
                'send {"rows": [...]} with at least one row',
                errors=[FieldError(loc=["body", "rows"], code="invalid", message="a non-empty list of rows")],
            )
        if len(doc["rows"]) > settings.monitoring_max_rows:
            raise ValidationFailed(
                "too many rows",
                errors=[
                    FieldError(
                        loc=["body", "rows"],
                        code="too-many-rows",
                        message=f"at most {settings.monitoring_max_rows} rows",
                    )
                ],
            )
        out: list[tuple[int, dict[str, Any]]] = []
        errors: list[FieldError] = []
        for n, item in enumerate(doc["rows"], start=1):
            if not isinstance(item, dict):
                errors.append(
                    FieldError(loc=["body", n], code="not-an-object", message=f"row {n}: not an object", row=n)
                )
                continue
            rec: dict[str, Any] = {}
            for k, v in item.items():
                col = canonical_column(k)
                if col is None:
                    errors.append(
                        FieldError(
                            loc=["body", n, str(k)[:64]],
                            code="unknown-field",
                            message=f"row {n}: unknown field",
                            row=n,
                            column=str(k)[:64],
                        )
                    )
                else:
                    rec[col] = v
            out.append((n, rec))
        if errors:
            raise ValidationFailed(f"{len({e.row for e in errors})} rows rejected; nothing was stored", errors=errors)
        return out
    table = read_table(
        body,
        content_type,
        max_rows=settings.monitoring_max_rows,
        max_uncompressed=settings.max_xlsx_uncompressed_bytes,
    )
    return records(table, canonical_column, required=REQUIRED_COLUMNS)


@router.post(
    "/campaigns/{campaign_id}/scores",
    response_model=UploadResult,
    summary="Load municipalities' scores on the nine steps (JSON, CSV or XLSX; all rows or none)",
    responses=problem_responses(400, 404, 409, 413, 415, 503),
    openapi_extra=UPLOAD_OPENAPI,
)
async def upload_scores(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    replace: bool = Query(default=False, description="Also remove municipalities missing from this upload"),
    idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, include_in_schema=False),
) -> Response:
    ensure_role(principal, REGIONAL_WRITERS, "load monitoring scores")
    key = check_key(idempotency_key)
    assert key is not None
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    settings = settings_of(request)
    body = await request.body()
    if len(body) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the upload exceeds {settings.max_upload_bytes} bytes")
    content_type = request.headers.get("content-type")
    guard = IdempotencyGuard(
        idempotency_keys, session, key=key, principal=principal.sub, operation=f"monitoring-scores:{campaign_id}"
    )
    body_fp = fingerprint(media_type(content_type), "replace" if replace else "merge", body)
    replayed = await guard.begin(body_fp)
    if replayed is not None:
        return replayed
    raw_rows = _upload_records(body, content_type, request)
    rows, errors = validate_rows(raw_rows)
    unknown = await unknown_municipalities(request, campaign["region"], [r.municipality for r in rows])
    for row_no, raw in raw_rows:
        if str(raw.get("municipality") or "").strip() in unknown:
            errors.append(
                FieldError(
                    loc=["body", row_no, "municipality"],
                    code="unknown-municipality",
                    row=row_no,
                    column="municipality",
                    message=f"row {row_no}: the region's directory has no municipality with this code",
                )
            )
    errors.sort(key=lambda e: e.row or 0)
    if errors:
        raise ValidationFailed(f"{len({e.row for e in errors})} rows rejected; nothing was stored", errors=errors)
    counts = await repo.upsert_scores(campaign_id, rows, replace=replace)
    payload = dumps(UploadResult(received=len(rows), **counts).model_dump())
    await guard.store(body_fp, 200, payload)
    return Response(payload, status_code=200, media_type="application/json")


async def _scope_rows(
    repo: MonitoringRepository, principal: Principal, campaign: dict[str, Any]
) -> tuple[list[ScoreRow], list[ScoreRow], dict[str, Any] | None]:
    own = own_municipality(principal)
    rows = await repo.scores(campaign["id"], municipality=own)
    previous = await repo.previous_campaign(campaign)
    prev_rows = await repo.scores(previous["id"], municipality=own) if previous else []
    return rows, prev_rows, previous


@router.get(
    "/campaigns/{campaign_id}/scores",
    response_model=ScorePage,
    summary="Scores with percents, bands and change (a municipal methodologist sees their own row)",
    responses=problem_responses(404),
)
async def list_scores(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    own = own_municipality(principal)
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    after = decode_cursor(cursor, 1)
    rows = await repo.scores(campaign_id, municipality=own, after=str(after[0]) if after else None, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].municipality])
    previous = await repo.previous_campaign(campaign)
    prev_rows = []
    if previous is not None and rows:
        wanted = {r.municipality for r in rows}
        prev_rows = [p for p in await repo.scores(previous["id"], municipality=own) if p.municipality in wanted]
    analysis = analyse(rows, prev_rows)
    items = sorted(analysis.municipalities, key=lambda m: m.municipality)
    return {"items": [municipality_json(m) for m in items], "next_cursor": next_cursor}


@router.get(
    "/campaigns/{campaign_id}/report",
    response_model=ReportRead,
    summary="The regional analysis as JSON: steps, top deficits, not engaged, leaders, change",
    responses=problem_responses(404),
)
async def monitoring_report(campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    rows, prev_rows, previous = await _scope_rows(repo, principal, campaign)
    return {"campaign": campaign, "previous": previous, **analysis_json(analyse(rows, prev_rows))}


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
async def monitoring_report_xlsx(campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> Response:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    rows, prev_rows, previous = await _scope_rows(repo, principal, campaign)
    info = CampaignInfo(
        region=campaign["region"],
        code=campaign["code"],
        title=campaign["title"],
        held_on=campaign["held_on"],
        previous_code=previous["code"] if previous else None,
    )
    data = await run_in_threadpool(lambda: build_xlsx(analyse(rows, prev_rows), info))
    return Response(
        data,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="monitoring-{campaign["code"]}.xlsx"'},
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
async def monitoring_chart(campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> Response:
    ensure_role(principal, ANALYSTS, "read the monitoring")
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    rows, _, _ = await _scope_rows(repo, principal, campaign)
    svg = build_svg(analyse(rows), title=f"{campaign['title']}: % от максимума по шагам")
    return Response(svg, media_type=SVG_MEDIA_TYPE)
