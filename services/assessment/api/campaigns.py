"""Assessment campaigns and the bulk intake of their results (JSON, CSV, XLSX)."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Body, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal, Role
from kit.db import DbSession
from kit.errors import (
    AppError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
    problem_responses,
)
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import ensure_current, etag
from kit.versioning import require_if_match as require_version
from services.assessment.api.frameworks import ensure_regional
from services.assessment.config import AssessmentSettings
from services.assessment.intake import (
    FORMAT_CSV,
    FORMAT_JSON,
    ArchiveLimits,
    Outcome,
    UploadRejected,
    check_upload,
    copyable_csv,
    format_of,
    spool_body,
)
from services.assessment.models import idempotency_keys
from services.assessment.repositories.campaigns import CampaignRepository
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.intake_writer import IntakeWriter, driver_connection
from services.assessment.result_schemas import (
    AssessmentCampaignCreate,
    AssessmentCampaignPage,
    AssessmentCampaignRead,
    AssessmentCampaignUpdate,
    BatchRead,
    CampaignStatus,
    RescoreRequest,
    RescoreResult,
    RowError,
    UploadMode,
    UploadResult,
)
from services.assessment.scoring import Level, score_result, whole_point_cuts
from services.assessment.vocab import Subject

log = logging.getLogger("assessment.intake")
router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=problem_responses(401, 403, 422))

UPLOADERS = frozenset(
    {Role.regional_specialist, Role.admin, Role.service, Role.municipal_methodologist, Role.school_admin}
)
TRANSITIONS = {
    CampaignStatus.planned: {CampaignStatus.open, CampaignStatus.closed},
    CampaignStatus.open: {CampaignStatus.closed},
    CampaignStatus.closed: {CampaignStatus.open},
}
_REJECTED = {400: BadRequest, 413: PayloadTooLarge, 415: UnsupportedMediaType, 422: ValidationFailed}

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


def settings_of(request: Request) -> AssessmentSettings:
    s: AssessmentSettings = request.app.state.settings
    return s


def require_if_match(value: str | None, current: int) -> int:
    """The version the caller read: 428 without If-Match, 412 when it is not the current one."""
    expected = require_version(value)
    ensure_current(expected, current, "the campaign")
    return current


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentCampaignRead,
    summary="Create a campaign",
    responses=problem_responses(422),
)
async def create_campaign(
    body: AssessmentCampaignCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    ensure_regional(principal)
    fws = FrameworkRepository(session)
    fw_row = await fws.get(principal, body.framework_code, body.framework_version)
    if fw_row is None:
        raise ValidationFailed(
            "unknown framework or version",
            errors=[
                FieldError(
                    loc=["body", "framework_code"], code="unknown-framework", message="no such framework version"
                )
            ],
        )
    fw = await fws.scoring(fw_row["id"])
    instrument = fw.instruments.get(body.instrument)
    if instrument is None:
        raise ValidationFailed(
            "unknown instrument",
            errors=[
                FieldError(
                    loc=["body", "instrument"],
                    code="unknown-instrument",
                    message="the framework has no such instrument",
                )
            ],
        )
    if instrument.subject and instrument.subject != body.subject:
        raise ValidationFailed(
            "instrument of another subject",
            errors=[
                FieldError(
                    loc=["body", "instrument"],
                    code="subject-mismatch",
                    message="the instrument is for another subject than the campaign's",
                )
            ],
        )
    row = await CampaignRepository(session).create(
        {
            "region": principal.region,
            "name": body.name,
            "source": body.source.value,
            "subject": body.subject.value,
            "assessed_on": body.assessed_on,
            "framework_id": fw_row["id"],
            "instrument": body.instrument,
            "status": body.status.value,
        }
    )
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
    after = decode_cursor(cursor, 2)
    rows = await CampaignRepository(session).search(
        principal,
        subject=subject.value if subject else None,
        source=source,
        status=status_.value if status_ else None,
        year=year,
        after=(str(after[0]), str(after[1])) if after else None,
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
    row = await CampaignRepository(session).get(principal, campaign_id)
    if row is None:
        raise NotFound("campaign not found", code="campaign-not-found")
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
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    repo = CampaignRepository(session)
    current = await repo.get(principal, campaign_id)
    if current is None:
        raise NotFound("campaign not found", code="campaign-not-found")
    ensure_regional(principal)
    expected = require_if_match(if_match, current["version"])
    values: dict[str, Any] = {}
    if body.name is not None and body.name != current["name"]:
        values["name"] = body.name
    if body.status is not None and body.status != current["status"]:
        if body.status not in TRANSITIONS[CampaignStatus(current["status"])]:
            raise Conflict("this status change is not allowed", code="invalid-transition")
        values["status"] = body.status.value
    if values and not await repo.update(campaign_id, expected, values):
        raise PreconditionFailed("the campaign changed since you read it", code="stale-version")
    row = await repo.get(principal, campaign_id)
    assert row is not None
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
    principal: CurrentPrincipal,
    session: DbSession,
    mode: UploadMode = Query(default=UploadMode.all, description="`all` (default) or `partial`"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    if principal.role not in UPLOADERS:
        raise Forbidden("your role may not upload results", code="role-forbidden")
    key = check_key(idempotency_key)
    assert key is not None
    settings = settings_of(request)
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 3)
        mark = now

    try:
        fmt, charset = format_of(request.headers.get("content-type"))
        limit = settings.results_json_max_bytes if fmt == FORMAT_JSON else settings.max_upload_bytes
        spool = await spool_body(request.stream(), limit, settings.upload_dir)
    except UploadRejected as e:
        await _discard(request)
        raise _problem(e) from None
    stage_path = Path(str(spool.path) + ".stage.csv")
    phase("receive")
    try:
        body_fp = fingerprint(str(campaign_id), mode.value, fmt, charset or "", spool.sha256)
        guard = IdempotencyGuard(
            idempotency_keys, session, key=key, principal=principal.sub, operation=f"upload-results:{campaign_id}"
        )
        replayed = await guard.begin(body_fp)
        if replayed is not None:
            return replayed
        campaigns = CampaignRepository(session)
        campaign = await campaigns.get(principal, campaign_id)
        if campaign is None:
            raise NotFound("campaign not found", code="campaign-not-found")
        if campaign["status"] != CampaignStatus.open:
            raise Conflict("the campaign does not accept results (it is not open)", code="campaign-not-open")
        fw = await FrameworkRepository(session).scoring(campaign["framework_id"])
        instrument = fw.instruments[campaign["instrument"]]
        writer = IntakeWriter(session)
        staged_by_copy: tuple[Any, int] | None = None
        cuts = whole_point_cuts(fw, instrument) if fmt == FORMAT_CSV else None
        if cuts is not None:
            layout = await anyio.to_thread.run_sync(copyable_csv, spool, charset, instrument)
            if layout is not None:
                staged_by_copy = await writer.stage_csv(spool.path, layout, instrument, cuts, principal.region)
        if staged_by_copy is not None:
            # PostgreSQL read and checked every row itself (see IntakeWriter.stage_csv).
            conn, n = staged_by_copy
            outcome = Outcome(rows=n, staged=n)
            phase("copy")
        else:
            orgs = await campaigns.organisations(principal.region)
            try:
                outcome = await anyio.to_thread.run_sync(
                    partial(
                        check_upload,
                        spool,
                        fmt,
                        charset,
                        fw,
                        instrument,
                        orgs,
                        stage_path,
                        max_errors=settings.results_max_reported_errors,
                        max_json_rows=settings.results_json_max_rows,
                        archive_limits=ArchiveLimits(settings.xlsx_max_uncompressed_bytes, settings.xlsx_max_ratio),
                    )
                )
            except UploadRejected as e:
                raise _problem(e) from None
            phase("check")
            conn = await writer.stage(stage_path)
            phase("copy")
        problems = await writer.reference_problems(conn, principal)
        phase("references")
        errors = list(outcome.errors)
        for row_no, code in problems:
            loc: list[str | int] = (
                ["body", "rows", row_no - 1, "external_id"] if fmt == FORMAT_JSON else ["row", row_no, "external_id"]
            )
            message = (
                "no teacher with this external id in your scope (to register a new one, give full_name, "
                "municipality and organisation within your scope)"
            )
            errors.append(FieldError(loc=loc, row=row_no, column="external_id", code=code, message=message))
        errors.sort(key=lambda e: e.row or 0)
        rejected = outcome.rejected + len(problems)
        cap = settings.results_max_reported_errors
        truncated = outcome.errors_total + len(problems) > len(errors) or len(errors) > cap
        errors = errors[:cap]
        extra = {"rows": outcome.rows, "rejected": rejected, "errors_truncated": truncated}
        if rejected and mode == UploadMode.all:
            raise ValidationFailed(
                f"{rejected} of {outcome.rows} rows rejected; nothing was stored",
                code="rows-rejected",
                errors=errors,
                extra=extra,
            )
        if rejected == outcome.rows:
            raise ValidationFailed(
                "every row was rejected; nothing was stored", code="rows-rejected", errors=errors, extra=extra
            )
        if problems:
            await writer.drop_rows(conn, [r for r, _ in problems])
        batch_id = uuid.uuid4()
        inserted, updated, unchanged = await writer.write(
            conn,
            campaign_id=campaign_id,
            framework_id=campaign["framework_id"],
            batch_id=batch_id,
            subject=campaign["subject"],
            staged=outcome.staged - len(problems),
        )
        phase("upsert")
        phases.update(writer.timings)
        await campaigns.record_batch(
            {
                "id": batch_id,
                "campaign_id": campaign_id,
                "principal": principal.sub[:200],
                "format": fmt,
                "mode": mode.value,
                "body_sha256": spool.sha256,
                "size_bytes": spool.size,
                "rows_total": outcome.rows,
                "inserted": inserted,
                "updated": updated,
                "unchanged": unchanged,
                "rejected": rejected,
            }
        )
        result = UploadResult(
            batch_id=batch_id,
            campaign_id=campaign_id,
            mode=mode,
            format=fmt,
            rows=outcome.rows,
            inserted=inserted,
            updated=updated,
            unchanged=unchanged,
            rejected=rejected,
            errors=[RowError(**e.model_dump()) for e in errors],
            errors_truncated=truncated,
        )
        body = dumps(result.model_dump(mode="json"))
        await guard.store(body_fp, 200, body)
        phase("store")
        log.info(
            "results stored",
            extra={
                "rows": outcome.rows,
                "format": fmt,
                "bytes": spool.size,
                "checked_by": "python" if staged_by_copy is None else "postgresql",
                **phases,
            },
        )
        return Response(body, status_code=200, media_type="application/json")
    finally:
        spool.remove()
        remove_file(stage_path)


def remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _problem(e: UploadRejected) -> AppError:
    cls = _REJECTED.get(e.status, ValidationFailed)
    return cls(e.detail, code=e.code, errors=e.errors)


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
async def list_uploads(campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[dict[str, Any]]:
    repo = CampaignRepository(session)
    if await repo.get(principal, campaign_id) is None:
        raise NotFound("campaign not found", code="campaign-not-found")
    ensure_regional(principal)
    return await repo.batches(campaign_id)


RESCORE_CHUNK = 5000


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
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    body: RescoreRequest = Body(),
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    campaigns = CampaignRepository(session)
    campaign = await campaigns.get(principal, campaign_id, lock=True)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign-not-found")
    ensure_regional(principal)
    expected = require_if_match(if_match, campaign["version"])
    fws = FrameworkRepository(session)
    target = await fws.get(principal, campaign["framework_code"], body.framework_version)
    if target is None:
        raise ValidationFailed(
            "unknown framework version",
            errors=[
                FieldError(
                    loc=["body", "framework_version"], code="unknown-framework", message="no such framework version"
                )
            ],
        )
    old_fw = await fws.scoring(campaign["framework_id"])
    new_fw = await fws.scoring(target["id"])
    old_ins = old_fw.instruments[campaign["instrument"]]
    new_ins = new_fw.instruments.get(campaign["instrument"])
    if new_ins is None or new_ins.item_codes() != old_ins.item_codes():
        raise ValidationFailed(
            "the new version's instrument has other items",
            errors=[
                FieldError(
                    loc=["body", "framework_version"],
                    code="instrument-mismatch",
                    message="the instrument must keep the same item codes in the same order",
                )
            ],
        )
    same_comps = new_ins.competencies == old_ins.competencies
    writer = IntakeWriter(session)
    conn = await driver_connection(session)
    await writer.rescore_stage(conn)
    total = changed = 0
    after: uuid.UUID | None = None
    while True:
        chunk = await writer.results_for_rescore(campaign_id, after, RESCORE_CHUNK)
        if not chunk:
            break
        records = []
        for r in chunk:
            items = [float(x) for x in r["item_points"]] if r["item_points"] is not None else None
            comps = [float(x) for x in r["competency_points"]] if r["competency_points"] else None
            if items is None and comps is not None and not same_comps:
                raise ValidationFailed(
                    "results without item scores cannot be moved to other competencies", code="instrument-mismatch"
                )
            reported = Level(r["level"]) if r["level_source"] == "reported" else None
            sc = score_result(
                new_fw,
                new_ins,
                item_points=items,
                competency_points=None if items else comps,
                total=float(r["total_points"]),
                reported_level=reported,
            )
            records.append(
                (
                    r["id"],
                    [Decimal(str(p)) for p in sc.competency_points],
                    Decimal(str(sc.total)),
                    Decimal(str(sc.max_total)),
                    Decimal(str(sc.percent)),
                    sc.level.value,
                    sc.group,
                    list(sc.deficits),
                    list(sc.growth),
                    list(sc.strengths),
                )
            )
        total += len(chunk)
        changed += await writer.apply_rescore(conn, records, campaign_id=campaign_id, framework_id=target["id"])
        after = chunk[-1]["id"]
    if target["id"] != campaign["framework_id"]:
        if not await campaigns.update(campaign_id, expected, {"framework_id": target["id"]}):
            raise PreconditionFailed("the campaign changed since you read it", code="stale-version")
    row = await campaigns.get(principal, campaign_id)
    assert row is not None
    response.headers["ETag"] = etag(row["version"])
    return {"campaign": row, "results": total, "changed": changed}
