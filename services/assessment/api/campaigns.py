"""Assessment campaigns and the bulk intake of their results (JSON, CSV, XLSX)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.idempotency import check_key
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor, key_date, key_id
from kit.versioning import etag
from services.assessment.auth import CampaignManager, ResultUploader
from services.assessment.deps import Settings
from services.assessment.intake import FORMAT_JSON, SpooledBody, UploadRejected, format_of, spool_body
from services.assessment.repositories.campaigns import CampaignRepository
from services.assessment.result_schemas import (
    AssessmentCampaignCreate,
    AssessmentCampaignPage,
    AssessmentCampaignRead,
    AssessmentCampaignUpdate,
    BatchRead,
    CampaignStatus,
    RescoreRequest,
    RescoreResult,
    UploadMode,
    UploadResult,
)
from services.assessment.service import campaigns as service
from services.assessment.service.uploads import Phases, Upload, rejection, store_results
from services.assessment.vocab import Subject

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=problem_responses(401, 403, 422))

UPLOAD_DOC = """Upload results of this campaign: one row per teacher.

**Formats** (by `Content-Type`):
- `text/csv`: UTF-8 with or without BOM, or Windows-1251 (detected; `charset=` is honoured);
  separated by `;` or `,` (detected from the header line); decimal comma or point.
- `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` (XLSX): the first sheet,
  first non-empty row is the header. Archives whose unpacked size or compression ratio is
  suspicious are refused (413) before parsing.
- `application/json`: `{"rows": [{"external_id": "...", "items": {"1": 2, ...}}, ...]}`, at most
  16 MB; a row may give `items`, or `competencies` (`{"M1": 5, ...}`), or only `total`.

**Columns**: `external_id` (required; Russian alias `Идентификатор`); registry fields `full_name`
(`ФИО`), `municipality` (`Код МО`), `organisation` (`Код ОО`), `position` (`Должность`), used only to
register a teacher whose external id is unknown; then either every item of the campaign's
instrument (the column name is the item code), or every competency code, or only `total`;
optional `total` (must equal the sum of the scores when these are given) and `level`
(`low/basic/elevated/high`, `низкий/базовый/повышенный/высокий` or 1..4: a level reported by the
assessment operator is kept instead of the computed one).

**All rows are checked first.** Every bad row is reported with `row` (1 = the first data row
after the header), `column`, `code` and `message`; rejected values and names are never echoed.
Codes: `unknown-column`, `duplicate-column`, `missing-column`, `mixed-scores` (header);
`missing`, `invalid-external-id`, `duplicate-in-batch`, `missing-score`, `not-a-number`,
`negative-score`, `above-max`, `total-mismatch`, `invalid-level`, `invalid-name`,
`unknown-organisation`, `unknown-teacher` (also for a teacher outside your scope, so that ids cannot be
probed) (rows). At most 10,000 errors are listed; `rejected` always counts every rejected row.

**Modes** (`mode`): `all` (default) stores nothing when any row is bad (422 with the errors);
`partial` stores the good rows and answers 200 with the bad ones in `errors` (422 when no row is good).

**Re-sending** results for a teacher already in the campaign updates them (upsert by campaign and
teacher); identical rows are left unchanged. The answer counts `inserted`, `updated`, `unchanged`
and `rejected`. Every inserted or updated result is announced in `GET /api/v1/assessment/changes`,
in the same transaction.

**Idempotency-Key** is required (400 without it): the same key with the same body replays the first
answer; with another body it is 422; while the first request is still running it is 409."""

UPLOAD_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "additionalProperties": False,
                    "properties": {
                        "rows": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["external_id"],
                                "additionalProperties": False,
                                "properties": {
                                    "external_id": {"type": "string"},
                                    "full_name": {"type": "string"},
                                    "municipality": {"type": "string"},
                                    "organisation": {"type": "string"},
                                    "position": {"type": "string"},
                                    "items": {"type": "object", "additionalProperties": {"type": "number"}},
                                    "competencies": {"type": "object", "additionalProperties": {"type": "number"}},
                                    "total": {"type": "number"},
                                    "level": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "example": {"rows": [{"external_id": "portal-000123", "items": {"1": 1, "2": 0, "3": 2}}]},
            },
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentCampaignRead,
    summary="Create a campaign",
    responses=problem_responses(422),
)
async def create_campaign(
    body: AssessmentCampaignCreate, principal: CampaignManager, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_campaign(session, principal, body)
    response.headers["ETag"] = etag(row["version"])
    response.headers["Location"] = f"/api/v1/campaigns/{row['id']}"
    return row


@router.get("", response_model=AssessmentCampaignPage, summary="List campaigns, newest first (keyset pages)")
async def list_campaigns(
    principal: CurrentPrincipal,
    session: DbSession,
    subject: Subject | None = None,
    source: str | None = Query(default=None, max_length=32),
    status_: CampaignStatus | None = Query(default=None, alias="status"),
    year: int | None = Query(default=None, ge=2000, le=2100),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_date, key_id])
    rows = await CampaignRepository(session).search(
        principal,
        subject=subject.value if subject else None,
        source=source,
        status=status_.value if status_ else None,
        year=year,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["assessed_on"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/{campaign_id}", response_model=AssessmentCampaignRead, summary="Read a campaign", responses=problem_responses(404)
)
async def get_campaign(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_campaign(session, principal, campaign_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{campaign_id}",
    response_model=AssessmentCampaignRead,
    summary="Rename a campaign or change its status (If-Match required)",
    description="Status moves planned → open → closed; a closed campaign may be reopened for "
    "corrections. Only an open campaign accepts uploads.",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: AssessmentCampaignUpdate,
    principal: CampaignManager,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.update_campaign(session, principal, campaign_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/{campaign_id}/results",
    response_model=UploadResult,
    summary="Upload results (CSV, XLSX or JSON; all-or-nothing or partial)",
    description=UPLOAD_DOC,
    openapi_extra=UPLOAD_REQUEST_BODY,
    responses=problem_responses(400, 404, 409, 413, 415),
)
async def upload_results(
    campaign_id: uuid.UUID,
    request: Request,
    principal: ResultUploader,
    session: DbSession,
    settings: Settings,
    mode: UploadMode = Query(default=UploadMode.all, description="`all` (default) or `partial`"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    key = check_key(idempotency_key)
    assert key is not None
    phases = Phases()
    try:
        fmt, charset = format_of(request.headers.get("content-type"))
        limit = settings.results_json_max_bytes if fmt == FORMAT_JSON else settings.max_upload_bytes
        spool: SpooledBody = await spool_body(request.stream(), limit, settings.upload_dir)
    except UploadRejected as e:
        await _discard(request)
        raise rejection(e) from None
    phases.end("receive")
    upload = Upload(spool, fmt, charset, mode)
    return await store_results(session, settings, principal, campaign_id, upload, key, phases)


async def _discard(request: Request, cap: int = 32 * 1024 * 1024) -> None:
    """Read and drop what is left of a refused body (bounded), so the client gets the answer."""
    seen = 0
    with contextlib.suppress(Exception):
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > cap:
                return


@router.get(
    "/{campaign_id}/uploads",
    response_model=list[BatchRead],
    summary="List the campaign's stored uploads",
    responses=problem_responses(404),
)
async def list_uploads(campaign_id: uuid.UUID, principal: CampaignManager, session: DbSession) -> list[dict[str, Any]]:
    return await service.list_uploads(session, principal, campaign_id)


@router.post(
    "/{campaign_id}/rescore",
    response_model=RescoreResult,
    summary="Rescore every result of the campaign with another version of its framework (If-Match required)",
    description="Use after a framework version was corrected (stored again as a new version). Results are "
    "recomputed from their stored item or competency scores; levels reported by the assessment "
    "operator are kept. Each changed result gets a new version and is announced in the change feed.",
    responses=problem_responses(404, 412, 428),
)
async def rescore_campaign(
    campaign_id: uuid.UUID,
    principal: CampaignManager,
    session: DbSession,
    response: Response,
    body: RescoreRequest = Body(),
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    result = await service.rescore_campaign(session, principal, campaign_id, body.framework_version, if_match)
    response.headers["ETag"] = etag(result["campaign"]["version"])
    return result
