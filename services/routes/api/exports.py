"""Monthly exports: recorded files (list, download) and an export generated on request."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import FieldError, Forbidden, NotFound, ValidationFailed, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.tabular import XLSX_MEDIA_TYPE
from services.routes.exports import (
    MEDIA_TYPES,
    MONTH_PATTERN,
    CsvWriter,
    ExportRecords,
    JsonWriter,
    Month,
    XlsxSheet,
    export_rows,
    fetch_chunks,
    file_stem,
    month_query,
    sheet_title,
    write_workbook,
)
from services.routes.repository import scope_clause

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], responses=problem_responses(401, 403, 422))


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class ExportRead(BaseModel):
    id: uuid.UUID
    month: str = Field(examples=["2026-11"])
    region: str
    municipality: str | None = Field(description="None for the region workbook (one sheet per municipality)")
    scope: Literal["municipality", "region"]
    format: ExportFormat
    filename: str
    sha256: str
    size_bytes: int
    rows: int = Field(description="Routes in the file")
    created_at: datetime = Field(description="When this file was last written")
    download_url: str


class ExportPage(BaseModel):
    items: list[ExportRead]
    next_cursor: str | None


class MonthlyExportRow(BaseModel):
    """One route in the JSON export (the CSV/XLSX show the same in Russian columns)."""

    route_id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    teacher_name: str
    region: str
    municipality: str
    organisation: str
    subject: str | None
    subject_label: str
    group: int = Field(description="Support group 1 (low) .. 4 (high); 1 comes first")
    level: str | None
    status: str
    status_label: str
    period_start: str
    period_end: str
    deficits: list[str]
    tasks: int
    mentor_id: str | None
    mentor: str | None
    next_control_on: str | None
    self_check_auto: int = Field(description="Machine-scored self-check criteria, 0..10")


FILE_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/MonthlyExportRow"}}},
}


def _may_export(principal: Principal) -> None:
    if not (principal.is_regional or principal.role == Role.municipal_methodologist):
        raise Forbidden("exports are for the municipal services and the centre", code="role-forbidden")


def _read(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "month", "region", "format", "filename", "sha256", "size_bytes", "rows")},
        "created_at": row["created_at"],
        "municipality": row["municipality"] or None,
        "scope": "municipality" if row["municipality"] else "region",
        "download_url": f"/api/v1/exports/{row['id']}/download",
    }


@router.get("", response_model=ExportPage, summary="Recorded monthly exports in your scope (newest month first)")
async def list_exports(
    principal: CurrentPrincipal,
    session: DbSession,
    month: str | None = Query(default=None, pattern=MONTH_PATTERN),
    municipality: str | None = Query(default=None, max_length=32),
    format: ExportFormat | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    _may_export(principal)
    after = decode_cursor(cursor, 4)
    rows = await ExportRecords(session).search(
        principal,
        month=month,
        municipality=municipality,
        fmt=format.value if format else None,
        after=(str(after[0]), str(after[1]), str(after[2]), str(after[3])) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["month"], last["municipality"], last["region"], last["format"]])
    return {"items": [_read(r) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/monthly",
    response_model=list[MonthlyExportRow],
    summary="Export a municipality's routes of a month now (streamed; group 1 first)",
    description="The same rows and formats as the monthly files. Municipal methodologists get their own "
    "municipality (the default); the centre names one. CSV is UTF-8 with BOM, `;`-separated.",
    responses={200: {"content": FILE_CONTENT}, **problem_responses(404)},
)
async def export_monthly(
    request: Request,
    principal: CurrentPrincipal,
    month: str = Query(pattern=MONTH_PATTERN, examples=["2026-11"]),
    municipality: str | None = Query(default=None, max_length=32),
    format: ExportFormat = ExportFormat.csv,
) -> Response:
    _may_export(principal)
    if municipality is None:
        if principal.role != Role.municipal_methodologist:
            raise ValidationFailed(
                "name the municipality",
                errors=[FieldError(loc=["query", "municipality"], code="required", message="give a municipality")],
            )
        municipality = principal.municipality or ""
    if not principal.sees(region=principal.region, municipality=municipality):
        raise NotFound("municipality not found", code="municipality-not-found")
    m = Month.parse(month)
    query = month_query(m, municipality, scope_clause(principal))
    engine: AsyncEngine = request.app.state.engine
    name = f"iom-{m.key}-{file_stem(municipality, set())}.{format.value}"
    if format == ExportFormat.xlsx:
        path = await _xlsx_file(engine, m, municipality, query)
        return FileResponse(
            path,
            media_type=XLSX_MEDIA_TYPE,
            filename=name,
            background=BackgroundTask(os.unlink, path),
        )
    # The rows are read after the handler returns: on a connection of their own, opened here so a
    # database failure still answers with a problem instead of a cut stream.
    conn = await engine.connect()
    try:
        chunks = fetch_chunks(conn, query)
        first = await anext(chunks, None)
    except BaseException:
        await conn.close()
        raise
    return StreamingResponse(
        _stream(conn, chunks, first, format),
        media_type=MEDIA_TYPES[format.value],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _stream(
    conn: AsyncConnection, chunks: AsyncGenerator[list[Any], None], first: list[Any] | None, fmt: ExportFormat
) -> AsyncIterator[bytes]:
    sink = _Buffer()
    writer = CsvWriter(sink) if fmt == ExportFormat.csv else JsonWriter(sink)

    def encode(raw: list[Any]) -> bytes:
        writer.write(export_rows(raw))
        return sink.take()

    try:
        yield sink.take()
        if first is not None:
            yield await run_in_threadpool(encode, first)
            async for raw in chunks:
                yield await run_in_threadpool(encode, raw)
        writer.finish()
        yield sink.take()
    finally:
        await chunks.aclose()
        await conn.close()


class _Buffer:
    """A byte sink emptied after every chunk."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _write_sheet(sheet: XlsxSheet, raw: list[Any]) -> None:
    sheet.write(export_rows(raw))


def _write_book(path: Path, month: Month, title: str, sheet: XlsxSheet) -> None:
    part = sheet.finish()
    with open(path, "wb") as sink:
        write_workbook(sink, month, [(title, part)])


async def _xlsx_file(engine: AsyncEngine, month: Month, municipality: str, query: Any) -> Path:
    """The workbook in a temporary file (a zip cannot be streamed before it is complete)."""
    work = Path(await run_in_threadpool(tempfile.mkdtemp, prefix="iom-export-"))
    path = work.with_suffix(".xlsx")
    try:
        sheet = XlsxSheet(work / "sheet")
        try:
            async with engine.connect() as conn:
                async for raw in fetch_chunks(conn, query):
                    await run_in_threadpool(_write_sheet, sheet, raw)
            await run_in_threadpool(_write_book, path, month, sheet_title(municipality, set()), sheet)
        finally:
            sheet.discard()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await run_in_threadpool(shutil.rmtree, work, True)
    return path


@router.get(
    "/{export_id}/download",
    response_class=FileResponse,
    summary="Download a recorded export file",
    responses={200: {"content": FILE_CONTENT}, **problem_responses(404)},
)
async def download_export(export_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> FileResponse:
    _may_export(principal)
    row = await ExportRecords(session).get(principal, export_id)
    if row is None:
        raise NotFound("export not found", code="export-not-found")
    path = Path(row["path"])
    if not await run_in_threadpool(path.is_file):
        raise NotFound("the export file is no longer stored; run the export again", code="export-file-missing")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[row["format"]],
        filename=f"iom-{row['month']}-{row['filename']}",
        headers={"ETag": f'"{row["sha256"]}"'},
    )
