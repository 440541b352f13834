"""Monthly exports: recorded files (list, download) and an export generated on request."""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.tabular import XLSX_MEDIA_TYPE
from services.routes.auth import Exporter
from services.routes.deps import Gateway
from services.routes.exports import service
from services.routes.exports.deps import Engine
from services.routes.exports.month import MONTH_PATTERN
from services.routes.exports.schemas import ExportFormat, ExportPage, MonthlyExportRow

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], responses=problem_responses(401, 403, 422))

FILE_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/MonthlyExportRow"}}},
}


@router.get("", response_model=ExportPage, summary="Recorded monthly exports in your scope (newest month first)")
async def list_exports(
    principal: Exporter,
    session: DbSession,
    month: str | None = Query(default=None, pattern=MONTH_PATTERN),
    municipality: str | None = Query(default=None, max_length=32),
    format: ExportFormat | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_recorded(
        session,
        principal,
        month=month,
        municipality=municipality,
        fmt=format.value if format else None,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/monthly",
    response_model=list[MonthlyExportRow],
    summary="Export a municipality's routes of a month now (streamed; group 1 first)",
    description="The same rows and formats as the monthly files. Municipal methodologists get their own "
    "municipality (the default); the centre names one. CSV is UTF-8 with BOM, `;`-separated.",
    responses={200: {"content": FILE_CONTENT}, **problem_responses(404, 503)},
)
async def export_monthly(
    principal: Exporter,
    engine: Engine,
    gateway: Gateway,
    month: str = Query(pattern=MONTH_PATTERN, examples=["2026-11"]),
    municipality: str | None = Query(default=None, max_length=32),
    format: ExportFormat = ExportFormat.csv,
) -> Response:
    export = await service.export_monthly(
        engine, gateway, principal, month=month, municipality=municipality, fmt=format.value
    )
    if export.path is not None:
        return FileResponse(
            export.path,
            media_type=export.media_type,
            filename=export.filename,
            background=BackgroundTask(os.unlink, export.path),
        )
    assert export.stream is not None
    return StreamingResponse(
        export.stream,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get(
    "/{export_id}/download",
    response_class=FileResponse,
    summary="Download a recorded export file",
    responses={200: {"content": FILE_CONTENT}, **problem_responses(404)},
)
async def download_export(export_id: uuid.UUID, principal: Exporter, session: DbSession) -> FileResponse:
    recorded = await service.recorded_file(session, principal, export_id)
    return FileResponse(
        recorded.path,
        media_type=recorded.media_type,
        filename=recorded.filename,
        headers={"ETag": f'"{recorded.sha256}"'},
    )
