"""The results upload: from a spooled body to stored, scored results, reported row by row.

Order of work (all in the request's transaction, nothing committed here): the Idempotency-Key is
locked (a replay answers at once); the campaign must be open; a plain item-score CSV is first COPied
and checked by PostgreSQL itself (`IntakeWriter.stage_csv`), anything else is checked and scored row
by row (`intake.check_upload`) and COPied; references (teachers, scope) are checked in SQL; then, by
mode, nothing or the good rows are stored and the batch is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import (
    AppError,
    BadRequest,
    Conflict,
    FieldError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from kit.idempotency import IdempotencyGuard, fingerprint
from kit.jsonutil import dumps
from services.assessment.config import AssessmentSettings
from services.assessment.intake import (
    FORMAT_CSV,
    FORMAT_JSON,
    ArchiveLimits,
    Outcome,
    SpooledBody,
    UploadRejected,
    check_upload,
    copyable_csv,
)
from services.assessment.models import idempotency_keys
from services.assessment.repositories.campaigns import CampaignRepository
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.intake_writer import IntakeWriter
from services.assessment.result_schemas import CampaignStatus, RowError, UploadMode, UploadResult
from services.assessment.scoring import Framework, Instrument, whole_point_cuts
from services.assessment.service.campaigns import get_campaign

log = logging.getLogger("assessment.intake")

_REJECTED = {400: BadRequest, 413: PayloadTooLarge, 415: UnsupportedMediaType, 422: ValidationFailed}
UNKNOWN_TEACHER_MESSAGE = (
    "Педагога с таким кодом нет в вашей зоне доступа. Чтобы зарегистрировать нового педагога, "
    "заполните ФИО, муниципалитет и образовательную организацию в пределах вашей зоны доступа"
)


def rejection(e: UploadRejected) -> AppError:
    """The problem answer for an upload that cannot be read as a whole."""
    cls = _REJECTED.get(e.status, ValidationFailed)
    return cls(e.detail, code=e.code, errors=e.errors)


@dataclass
class Phases:
    """Seconds spent in each phase of one upload, for the log line."""

    seconds: dict[str, float] = field(default_factory=dict)
    mark: float = field(default_factory=time.perf_counter)

    def end(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.mark, 3)
        self.mark = now


@dataclass(frozen=True)
class Upload:
    """A received upload: the spooled body, its format and declared charset, and the caller's mode."""

    spool: SpooledBody
    fmt: str
    charset: str | None
    mode: UploadMode


async def _stage(
    session: AsyncSession,
    settings: AssessmentSettings,
    principal: Principal,
    upload: Upload,
    framework: Framework,
    instrument: Instrument,
    writer: IntakeWriter,
    stage_path: Path,
    phases: Phases,
) -> tuple[Any, Outcome, bool]:
    """Check and stage every row: (driver connection, outcome, whether PostgreSQL checked the rows)."""
    cuts = whole_point_cuts(framework, instrument) if upload.fmt == FORMAT_CSV else None
    if cuts is not None:
        layout = await anyio.to_thread.run_sync(copyable_csv, upload.spool, upload.charset, instrument)
        if layout is not None:
            staged = await writer.stage_csv(upload.spool.path, layout, instrument, cuts, principal.region)
            if staged is not None:
                # PostgreSQL read and checked every row itself (see IntakeWriter.stage_csv).
                conn, n = staged
                phases.end("copy")
                return conn, Outcome(rows=n, staged=n), True
    orgs = await CampaignRepository(session).organisations(principal.region)
    try:
        outcome = await anyio.to_thread.run_sync(
            partial(
                check_upload,
                upload.spool,
                upload.fmt,
                upload.charset,
                framework,
                instrument,
                orgs,
                stage_path,
                max_errors=settings.results_max_reported_errors,
                max_json_rows=settings.results_json_max_rows,
                archive_limits=ArchiveLimits(
                    settings.xlsx_max_uncompressed_bytes,
                    settings.xlsx_max_ratio,
                    max_seconds=settings.upload_read_seconds,
                ),
            )
        )
    except UploadRejected as e:
        raise rejection(e) from None
    phases.end("check")
    conn = await writer.stage(stage_path)
    phases.end("copy")
    return conn, outcome, False


def _report(
    settings: AssessmentSettings, upload: Upload, outcome: Outcome, problems: list[tuple[int, str]]
) -> tuple[list[FieldError], int, dict[str, Any]]:
    """Every rejected row's errors (capped), the count of rejected rows, and the extra fields of a 422."""
    errors = list(outcome.errors)
    for row_no, code in problems:
        loc: list[str | int] = (
            ["body", "rows", row_no - 1, "external_id"] if upload.fmt == FORMAT_JSON else ["row", row_no, "external_id"]
        )
        errors.append(FieldError(loc=loc, row=row_no, column="external_id", code=code, message=UNKNOWN_TEACHER_MESSAGE))
    errors.sort(key=lambda e: e.row or 0)
    rejected = outcome.rejected + len(problems)
    cap = settings.results_max_reported_errors
    truncated = outcome.errors_total + len(problems) > len(errors) or len(errors) > cap
    extra = {"rows": outcome.rows, "rejected": rejected, "errors_truncated": truncated}
    return errors[:cap], rejected, extra


def _refuse_when_nothing_may_be_stored(
    upload: Upload, outcome: Outcome, rejected: int, errors: list[FieldError], extra: dict[str, Any]
) -> None:
    if rejected and upload.mode == UploadMode.all:
        raise ValidationFailed(
            f"Отклонено строк: {rejected} из {outcome.rows}; ничего не сохранено",
            code="rows-rejected",
            errors=errors,
            extra=extra,
        )
    if rejected == outcome.rows:
        raise ValidationFailed(
            "Отклонены все строки; ничего не сохранено", code="rows-rejected", errors=errors, extra=extra
        )


async def store_results(
    session: AsyncSession,
    settings: AssessmentSettings,
    principal: Principal,
    campaign_id: uuid.UUID,
    upload: Upload,
    key: str,
    phases: Phases,
) -> Response:
    """Check, score and store an upload's rows; answer (or replay) the upload's JSON result."""
    spool = upload.spool
    stage_path = Path(str(spool.path) + ".stage.csv")
    try:
        body_fp = fingerprint(str(campaign_id), upload.mode.value, upload.fmt, upload.charset or "", spool.sha256)
        guard = IdempotencyGuard(
            idempotency_keys, session, key=key, principal=principal.sub, operation=f"upload-results:{campaign_id}"
        )
        replayed = await guard.begin(body_fp)
        if replayed is not None:
            return replayed
        campaign = await get_campaign(session, principal, campaign_id)
        if campaign["status"] != CampaignStatus.open:
            raise Conflict("Кампания не принимает результаты: она не открыта", code="campaign-not-open")
        fw = await FrameworkRepository(session).scoring(campaign["framework_id"])
        instrument = fw.instruments[campaign["instrument"]]
        writer = IntakeWriter(session)
        conn, outcome, by_copy = await _stage(
            session, settings, principal, upload, fw, instrument, writer, stage_path, phases
        )
        problems = await writer.reference_problems(conn, principal)
        phases.end("references")
        errors, rejected, extra = _report(settings, upload, outcome, problems)
        _refuse_when_nothing_may_be_stored(upload, outcome, rejected, errors, extra)
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
        phases.end("upsert")
        phases.seconds.update(writer.timings)
        await CampaignRepository(session).record_batch(
            {
                "id": batch_id,
                "campaign_id": campaign_id,
                "principal": principal.sub[:200],
                "format": upload.fmt,
                "mode": upload.mode.value,
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
            mode=upload.mode,
            format=upload.fmt,
            rows=outcome.rows,
            inserted=inserted,
            updated=updated,
            unchanged=unchanged,
            rejected=rejected,
            errors=[RowError(**e.model_dump()) for e in errors],
            errors_truncated=extra["errors_truncated"],
        )
        body = dumps(result.model_dump(mode="json"))
        await guard.store(body_fp, 200, body)
        phases.end("store")
        log.info(
            "results stored",
            extra={
                "rows": outcome.rows,
                "format": upload.fmt,
                "bytes": spool.size,
                "checked_by": "postgresql" if by_copy else "python",
                **phases.seconds,
            },
        )
        return Response(body, status_code=200, media_type="application/json")
    finally:
        spool.remove()
        remove_file(stage_path)


def remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
