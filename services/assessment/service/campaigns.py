"""Campaigns: create, change (name, status), list their uploads, rescore with another framework version."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from kit.versioning import ensure_current
from kit.versioning import require_if_match as require_version
from services.assessment.repositories.campaigns import CampaignRepository
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.intake_writer import IntakeWriter, driver_connection
from services.assessment.result_schemas import AssessmentCampaignCreate, AssessmentCampaignUpdate, CampaignStatus
from services.assessment.scoring import Framework, Instrument, Level, score_result

TRANSITIONS = {
    CampaignStatus.planned: {CampaignStatus.open, CampaignStatus.closed},
    CampaignStatus.open: {CampaignStatus.closed},
    CampaignStatus.closed: {CampaignStatus.open},
}
RESCORE_CHUNK = 5000
STALE_CAMPAIGN_DETAIL = "Кампания изменилась с тех пор, как вы её прочитали: прочитайте её заново и повторите изменение"


def require_if_match(value: str | None, current: int) -> int:
    """The version the caller read: 428 without If-Match, 412 when it is not the current one."""
    expected = require_version(value)
    ensure_current(expected, current, STALE_CAMPAIGN_DETAIL)
    return current


def _invalid(message: str, field: str, code: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(loc=["body", field], code=code, message=detail)])


async def get_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    """The campaign in the caller's scope, or 404."""
    row = await CampaignRepository(session).get(principal, campaign_id, lock=lock)
    if row is None:
        raise NotFound("Кампания не найдена", code="campaign-not-found")
    return row


async def create_campaign(
    session: AsyncSession, principal: Principal, body: AssessmentCampaignCreate
) -> dict[str, Any]:
    """Store a campaign of a known framework version and one of its instruments (of the same subject)."""
    fws = FrameworkRepository(session)
    fw_row = await fws.get(principal, body.framework_code, body.framework_version)
    if fw_row is None:
        raise _invalid(
            "Неизвестная модель компетенций или её версия",
            "framework_code",
            "unknown-framework",
            "Такой версии модели компетенций нет",
        )
    fw = await fws.scoring(fw_row["id"])
    instrument = fw.instruments.get(body.instrument)
    if instrument is None:
        raise _invalid(
            "Неизвестный инструмент", "instrument", "unknown-instrument", "В модели компетенций нет такого инструмента"
        )
    if instrument.subject and instrument.subject != body.subject:
        raise _invalid(
            "Инструмент относится к другому предмету",
            "instrument",
            "subject-mismatch",
            "Инструмент предназначен не для того предмета, что у кампании",
        )
    return await CampaignRepository(session).create(
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


async def update_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    body: AssessmentCampaignUpdate,
    if_match: str | None,
) -> dict[str, Any]:
    """Rename the campaign or move its status (planned → open → closed, closed → open)."""
    repo = CampaignRepository(session)
    current = await get_campaign(session, principal, campaign_id)
    expected = require_if_match(if_match, current["version"])
    values: dict[str, Any] = {}
    if body.name is not None and body.name != current["name"]:
        values["name"] = body.name
    if body.status is not None and body.status != current["status"]:
        if body.status not in TRANSITIONS[CampaignStatus(current["status"])]:
            raise Conflict("Такой переход статуса кампании невозможен", code="invalid-transition")
        values["status"] = body.status.value
    if values and not await repo.update(campaign_id, expected, values):
        raise PreconditionFailed(STALE_CAMPAIGN_DETAIL, code="stale-version")
    return await get_campaign(session, principal, campaign_id)


async def list_uploads(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> list[dict[str, Any]]:
    await get_campaign(session, principal, campaign_id)
    return await CampaignRepository(session).batches(campaign_id)


def _rescored(framework: Framework, instrument: Instrument, r: dict[str, Any], same_comps: bool) -> tuple[Any, ...]:
    """One stored result scored again with `framework`, as the record `IntakeWriter.apply_rescore` takes."""
    items = [float(x) for x in r["item_points"]] if r["item_points"] is not None else None
    comps = [float(x) for x in r["competency_points"]] if r["competency_points"] else None
    if items is None and comps is not None and not same_comps:
        raise ValidationFailed(
            "Результаты без баллов по заданиям нельзя перенести на другие компетенции", code="instrument-mismatch"
        )
    reported = Level(r["level"]) if r["level_source"] == "reported" else None
    sc = score_result(
        framework,
        instrument,
        item_points=items,
        competency_points=None if items else comps,
        total=float(r["total_points"]),
        reported_level=reported,
    )
    return (
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


async def rescore_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, framework_version: int, if_match: str | None
) -> dict[str, Any]:
    """Score every result of the campaign again with another version of its framework."""
    campaigns = CampaignRepository(session)
    campaign = await get_campaign(session, principal, campaign_id, lock=True)
    expected = require_if_match(if_match, campaign["version"])
    fws = FrameworkRepository(session)
    target = await fws.get(principal, campaign["framework_code"], framework_version)
    if target is None:
        raise _invalid(
            "Неизвестная версия модели компетенций",
            "framework_version",
            "unknown-framework",
            "Такой версии модели компетенций нет",
        )
    old_ins = (await fws.scoring(campaign["framework_id"])).instruments[campaign["instrument"]]
    new_fw = await fws.scoring(target["id"])
    new_ins = new_fw.instruments.get(campaign["instrument"])
    if new_ins is None or new_ins.item_codes() != old_ins.item_codes():
        raise _invalid(
            "В новой версии у инструмента другие задания",
            "framework_version",
            "instrument-mismatch",
            "Коды заданий инструмента должны остаться теми же и в том же порядке",
        )
    same_comps = new_ins.competencies == old_ins.competencies
    writer = IntakeWriter(session)
    conn = await driver_connection(session)
    await writer.rescore_stage(conn)
    total = changed = 0
    after: uuid.UUID | None = None
    while chunk := await writer.results_for_rescore(campaign_id, after, RESCORE_CHUNK):
        records = [_rescored(new_fw, new_ins, r, same_comps) for r in chunk]
        total += len(chunk)
        changed += await writer.apply_rescore(conn, records, campaign_id=campaign_id, framework_id=target["id"])
        after = chunk[-1]["id"]
    if target["id"] != campaign["framework_id"]:
        if not await campaigns.update(campaign_id, expected, {"framework_id": target["id"]}):
            raise PreconditionFailed(STALE_CAMPAIGN_DETAIL, code="stale-version")
    row = await get_campaign(session, principal, campaign_id)
    return {"campaign": row, "results": total, "changed": changed}
