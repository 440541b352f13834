"""The work of the exports router: recorded files in the caller's scope, and a municipality's month now."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from starlette.concurrency import run_in_threadpool

from kit.auth import Principal, Role
from kit.client import GatewayClient
from kit.errors import FieldError, NotFound, UpstreamUnavailable, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_text
from services.routes.exports.files import file_stem, open_private
from services.routes.exports.month import Month
from services.routes.exports.names import Directory, DirectoryUnavailable, read_directory
from services.routes.exports.queries import ExportRecords, fetch_chunks, month_query
from services.routes.exports.rows import export_rows
from services.routes.exports.workbook import MonthSheet, sheet_title, write_month_workbook
from services.routes.exports.writers import MEDIA_TYPES, ByteBuffer, CsvWriter, JsonWriter
from services.routes.repository import scope_clause


def _read(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "month", "region", "format", "filename", "sha256", "size_bytes", "rows")},
        "created_at": row["created_at"],
        "municipality": row["municipality"] or None,
        "scope": "municipality" if row["municipality"] else "region",
        "download_url": f"/api/v1/exports/{row['id']}/download",
    }


async def list_recorded(
    session: AsyncSession,
    principal: Principal,
    *,
    month: str | None,
    municipality: str | None,
    fmt: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A page of the recorded files in the caller's scope, newest month first."""
    after = decode_cursor(cursor, [key_text] * 4)
    rows = await ExportRecords(session).search(
        principal,
        month=month,
        municipality=municipality,
        fmt=fmt,
        after=(after[0], after[1], after[2], after[3]) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["month"], last["municipality"], last["region"], last["format"]])
    return {"items": [_read(r) for r in rows], "next_cursor": next_cursor}


@dataclass(frozen=True)
class RecordedFile:
    path: Path
    media_type: str
    filename: str
    sha256: str


async def recorded_file(session: AsyncSession, principal: Principal, export_id: uuid.UUID) -> RecordedFile:
    """The stored file of a record in the caller's scope (404 when out of scope or no longer stored)."""
    row = await ExportRecords(session).get(principal, export_id)
    if row is None:
        raise NotFound("Выгрузка не найдена", code="export-not-found")
    path = Path(row["path"])
    if not await run_in_threadpool(path.is_file):
        raise NotFound("Файл выгрузки больше не хранится: сформируйте выгрузку заново", code="export-file-missing")
    return RecordedFile(path, MEDIA_TYPES[row["format"]], f"iom-{row['month']}-{row['filename']}", row["sha256"])


def monthly_municipality(principal: Principal, municipality: str | None) -> str:
    """The municipality asked for: a methodologist's own by default, the centre names one; 404 outside scope."""
    if municipality is None:
        if principal.role != Role.municipal_methodologist:
            raise ValidationFailed(
                "Укажите муниципалитет",
                errors=[FieldError(loc=["query", "municipality"], code="required", message="Укажите муниципалитет")],
            )
        municipality = principal.municipality or ""
    if not principal.sees(region=principal.region, municipality=municipality):
        raise NotFound("Муниципалитет не найден", code="municipality-not-found")
    return municipality


@dataclass(frozen=True)
class MonthlyExport:
    """A municipality's month in one format: a temporary XLSX file (removed once sent) or a byte stream."""

    filename: str
    media_type: str
    path: Path | None = None
    stream: AsyncIterator[bytes] | None = None


async def export_monthly(
    engine: AsyncEngine,
    client: GatewayClient,
    principal: Principal,
    *,
    month: str,
    municipality: str | None,
    fmt: str,
) -> MonthlyExport:
    """The same rows and formats as the monthly files, of one municipality in the caller's scope."""
    municipality = monthly_municipality(principal, municipality)
    m = Month.parse(month)
    query = month_query(m, municipality, scope_clause(principal))
    name = f"iom-{m.key}-{file_stem(municipality, set())}.{fmt}"
    try:
        names = await read_directory(client, region=principal.region)
    except DirectoryUnavailable as e:
        raise UpstreamUnavailable("справочник муниципалитетов и школ недоступен, повторите позже") from e
    if fmt == "xlsx":
        path = await _xlsx_file(engine, m, municipality, query, names)
        return MonthlyExport(name, MEDIA_TYPES[fmt], path=path)
    # The rows are read after the handler returns: on a connection of their own, opened here so a
    # database failure still answers with a problem instead of a cut stream.
    conn = await engine.connect()
    try:
        chunks = fetch_chunks(conn, query)
        first = await anext(chunks, None)
    except BaseException:
        await conn.close()
        raise
    return MonthlyExport(name, MEDIA_TYPES[fmt], stream=_stream(conn, chunks, first, fmt, m, names))


async def _stream(
    conn: AsyncConnection,
    chunks: AsyncGenerator[list[Any], None],
    first: list[Any] | None,
    fmt: str,
    month: Month,
    names: Directory,
) -> AsyncIterator[bytes]:
    sink = ByteBuffer()
    writer = CsvWriter(sink) if fmt == "csv" else JsonWriter(sink)

    def encode(raw: list[Any]) -> bytes:
        writer.write(export_rows(raw, month, names))
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


def _write_sheet(sheet: MonthSheet, raw: list[Any], month: Month, names: Directory) -> None:
    sheet.write(export_rows(raw, month, names))


def _write_book(path: Path, month: Month, title: str, sheet: MonthSheet) -> None:
    part = sheet.finish()
    with open_private(path) as sink:  # in the shared temporary folder: the owner's only
        write_month_workbook(sink, month, [(title, part)])


async def _xlsx_file(engine: AsyncEngine, month: Month, municipality: str, query: Any, names: Directory) -> Path:
    """The workbook in a temporary file (a zip cannot be streamed before it is complete)."""
    work = Path(await run_in_threadpool(tempfile.mkdtemp, prefix="iom-export-"))
    path = work.with_suffix(".xlsx")
    try:
        sheet = MonthSheet(work / "sheet")
        try:
            async with engine.connect() as conn:
                async for raw in fetch_chunks(conn, query):
                    await run_in_threadpool(_write_sheet, sheet, raw, month, names)
            title = sheet_title(names.municipalities.get(municipality) or municipality, set())
            await run_in_threadpool(_write_book, path, month, title, sheet)
        finally:
            sheet.discard()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await run_in_threadpool(shutil.rmtree, work, True)
    return path
