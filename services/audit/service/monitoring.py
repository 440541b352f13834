"""Monitoring of municipalities: campaigns, score uploads, the regional analysis, its XLSX report and chart."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, PayloadTooLarge, ValidationFailed
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from kit.pagination import decode_cursor, encode_cursor, key_date, key_id, key_text
from kit.russian import size
from kit.tabular import media_type
from services.audit.bands import BANDS, band_range
from services.audit.clients import MunicipalityDirectory, unknown_municipalities
from services.audit.config import AuditSettings
from services.audit.models import idempotency_keys
from services.audit.monitoring import ScoreRow, analyse, analysis_json, municipality_json, validate_rows
from services.audit.report import CampaignInfo, build_svg, build_xlsx
from services.audit.repository import MonitoringRepository
from services.audit.schemas import CampaignCreate, UploadResult
from services.audit.scope import own_municipality, writer_region
from services.audit.uploads import Records, score_records
from services.audit.vocab import STEP_LABELS_RU, STEP_MAX, TOTAL_MAX, Step


def vocabulary() -> dict[str, Any]:
    """The nine steps with their maximum points, and the bands with their labels, colours and edges."""
    return {
        "steps": [{"step": s, "label": STEP_LABELS_RU[s], "max": STEP_MAX[s]} for s in Step],
        "bands": [
            {
                "band": b.band,
                "label": b.label,
                "colour": b.colour,
                "from_percent": band_range(b.band)[0],
                "to_percent": band_range(b.band)[1],
            }
            for b in BANDS
        ],
        "total_max": TOTAL_MAX,
    }


async def _campaign_or_404(repo: MonitoringRepository, principal: Principal, campaign_id: uuid.UUID) -> dict[str, Any]:
    row = await repo.get_campaign(principal.region, campaign_id)
    if row is None:
        raise NotFound("Кампания мониторинга не найдена", code="campaign-not-found")
    return row


async def create_campaign(session: AsyncSession, principal: Principal, body: CampaignCreate) -> dict[str, Any]:
    region = writer_region(principal, body.region)
    repo = MonitoringRepository(session)
    if body.previous_id is not None and await repo.get_campaign(region, body.previous_id) is None:
        raise NotFound("Предыдущая кампания мониторинга не найдена", code="campaign-not-found")
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
        raise Conflict("В регионе уже есть кампания мониторинга с таким кодом", code="campaign-code-taken")
    return row


async def list_campaigns(session: AsyncSession, principal: Principal, cursor: str | None, limit: int) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_date, key_id])
    key = (after[0], after[1]) if after else None
    rows = await MonitoringRepository(session).list_campaigns(principal.region, after=key, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["held_on"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


async def get_campaign(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> dict[str, Any]:
    return await _campaign_or_404(MonitoringRepository(session), principal, campaign_id)


@dataclass(frozen=True)
class ScoreUploadRequest:
    """An upload of scores as the request carries it."""

    body: bytes
    content_type: str | None
    replace: bool
    idempotency_key: str | None


async def _unknown_municipality_errors(
    directory: MunicipalityDirectory, region: str, rows: list[ScoreRow], raw_rows: Records
) -> list[FieldError]:
    unknown = await unknown_municipalities(directory, region, [r.municipality for r in rows])
    return [
        FieldError(
            loc=["body", row_no, "municipality"],
            code="unknown-municipality",
            row=row_no,
            column="municipality",
            message=f"Строка {row_no}: в справочнике региона нет муниципалитета с таким кодом",
        )
        for row_no, raw in raw_rows
        if str(raw.get("municipality") or "").strip() in unknown
    ]


async def upload_scores(
    session: AsyncSession,
    directory: MunicipalityDirectory,
    settings: AuditSettings,
    principal: Principal,
    campaign_id: uuid.UUID,
    upload: ScoreUploadRequest,
) -> Response:
    """Store a campaign's scores, all rows or none (Idempotency-Key: the same upload replays the first answer)."""
    key = check_key(upload.idempotency_key)
    assert key is not None
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    if len(upload.body) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Файл больше допустимого размера ({size(settings.max_upload_bytes)})")
    guard = IdempotencyGuard(
        idempotency_keys, session, key=key, principal=principal.sub, operation=f"monitoring-scores:{campaign_id}"
    )
    body_fp = fingerprint(media_type(upload.content_type), "replace" if upload.replace else "merge", upload.body)
    replayed = await guard.begin(body_fp)
    if replayed is not None:
        return replayed
    # Reading is blocking work bounded by upload_read_seconds: a worker thread, so other requests are served.
    raw_rows = await run_in_threadpool(score_records, upload.body, upload.content_type, settings)
    rows, errors = validate_rows(raw_rows)
    errors += await _unknown_municipality_errors(directory, campaign["region"], rows, raw_rows)
    errors.sort(key=lambda e: e.row or 0)
    if errors:
        raise ValidationFailed(f"Отклонено строк: {len({e.row for e in errors})}; ничего не сохранено", errors=errors)
    counts = await repo.upsert_scores(campaign_id, rows, replace=upload.replace)
    payload = dumps(UploadResult(received=len(rows), **counts).model_dump())
    await guard.store(body_fp, 200, payload)
    return Response(payload, status_code=200, media_type="application/json")


async def list_scores(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of the campaign's municipalities with percents, bands and change (a methodologist sees their own)."""
    own = own_municipality(principal)
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    after = decode_cursor(cursor, [key_text])
    rows = await repo.scores(campaign_id, municipality=own, after=after[0] if after else None, limit=limit + 1)
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


@dataclass(frozen=True)
class CampaignScores:
    campaign: dict[str, Any]
    rows: list[ScoreRow]
    previous: dict[str, Any] | None
    previous_rows: list[ScoreRow]


async def _campaign_scores(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> CampaignScores:
    """The campaign, its scores in the caller's scope, and the previous campaign's for comparison."""
    repo = MonitoringRepository(session)
    campaign = await _campaign_or_404(repo, principal, campaign_id)
    own = own_municipality(principal)
    rows = await repo.scores(campaign["id"], municipality=own)
    previous = await repo.previous_campaign(campaign)
    prev_rows = await repo.scores(previous["id"], municipality=own) if previous else []
    return CampaignScores(campaign, rows, previous, prev_rows)


async def report(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> dict[str, Any]:
    got = await _campaign_scores(session, principal, campaign_id)
    return {
        "campaign": got.campaign,
        "previous": got.previous,
        **analysis_json(analyse(got.rows, got.previous_rows)),
    }


async def report_xlsx(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> tuple[bytes, str]:
    """The report workbook and its file name."""
    got = await _campaign_scores(session, principal, campaign_id)
    campaign = got.campaign
    info = CampaignInfo(
        region=campaign["region"],
        code=campaign["code"],
        title=campaign["title"],
        held_on=campaign["held_on"],
        previous_code=got.previous["code"] if got.previous else None,
    )
    data = await run_in_threadpool(lambda: build_xlsx(analyse(got.rows, got.previous_rows), info))
    return data, f"monitoring-{campaign['code']}.xlsx"


async def chart(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> str:
    got = await _campaign_scores(session, principal, campaign_id)
    return build_svg(analyse(got.rows), title=f"{got.campaign['title']}: % от максимума по шагам")
