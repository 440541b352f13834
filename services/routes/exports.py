"""Monthly export of routes for the municipal services: rows, CSV/XLSX/JSON writers, the export job.

Teachers with insufficient levels come first (group 1, then 2, ...), then by name. Every output
is a pure function of the routes in the database and the month: no "generated at" stamps, fixed
workbook properties and zip entry times, so a re-run over the same data gives the same bytes.
Rows are read with a server-side cursor in chunks and written as they come (memory stays flat).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import hashlib
import io
import multiprocessing
import os
import re
import shutil
import struct
import sys
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TextIO

import orjson
from sqlalchemy import LargeBinary, Select, and_, column, delete, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kit.tabular import XLSX_MEDIA_TYPE, ooxml_literal, safe_cell
from services.routes.generation import LEVEL_LABELS, subject_label
from services.routes.models import exports, routes
from services.routes.printing import STATUS_RU
from services.routes.selfcheck import evaluate

if TYPE_CHECKING:
    from kit.auth import Principal

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MEDIA_TYPE, "json": "application/json"}
# Months a file can be made for: XLSX is a zip, whose timestamps run from 1980 to 2107.
MONTH_PATTERN = r"^(19[89][0-9]|20[0-9]{2}|210[0-7])-(0[1-9]|1[0-2])$"
# A region workbook's record has no municipality (it holds them all); municipal roles never see it.
# Its file is `region-<region code>.xlsx`, one per region with routes in the month.
REGION_FILE = "region"
# Rows per fetch: route documents are ~13 kB of JSON each, parsed ~4x that in memory.
CHUNK_ROWS = 500
# One export job at a time per database (session advisory lock; released when the session ends).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"iom:routes:monthly-export").digest()[:8], "big", signed=True)

HEADERS = (
    "ФИО педагога",
    "ОО",
    "Предмет",
    "Уровень / группа",
    "Статус маршрута",
    "Период",
    "Дефициты",
    "Число задач",
    "Наставник",
    "Ближайшая контрольная точка",
    "Самопроверка (авто, из 10)",
)
COLUMN_WIDTHS = (38, 14, 24, 20, 30, 25, 22, 10, 32, 16, 14)
DATE_COLUMN = HEADERS.index("Ближайшая контрольная точка")
NO_MENTOR = "не назначен"


class ExportBusy(Exception):
    """Another export holds the lock."""


class ExportRefused(Exception):
    """The data cannot be exported as asked (the message says why)."""


# --- month --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    key: str  # YYYY-MM
    first: date
    last: date

    @classmethod
    def parse(cls, value: str, today: date | None = None) -> Month:
        """`YYYY-MM`, or `previous`: the calendar month before today (UTC)."""
        if value == "previous":
            today = today or datetime.now(UTC).date()
            last = today.replace(day=1) - timedelta(days=1)
            value = f"{last.year:04d}-{last.month:02d}"
        if not re.match(MONTH_PATTERN, value):
            raise ValueError("the month is YYYY-MM (e.g. 2026-11, years 1980..2107) or 'previous'")
        first = date(int(value[:4]), int(value[5:7]), 1)
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls(value, first, nxt - timedelta(days=1))

    @property
    def stamp(self) -> datetime:
        """The one timestamp every file of this month carries (midnight of its first day)."""
        return datetime(self.first.year, self.first.month, 1)


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One route as the municipal service sees it in the export."""

    route_id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    teacher_name: str
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int
    status: str
    period_start: date
    period_end: date
    deficits: tuple[str, ...]
    tasks: int
    mentor_id: str | None
    mentor: str
    next_control_on: date | None
    self_check: int

    def cells(self) -> list[Any]:
        """Values in HEADERS order (the control point as a date; text not yet escaped)."""
        return [
            self.teacher_name,
            self.organisation,
            subject_label(self.subject),
            f"{LEVEL_LABELS.get(self.group, '—')} (группа {self.group})",
            STATUS_RU.get(self.status, self.status),
            f"{self.period_start:%d.%m.%Y} – {self.period_end:%d.%m.%Y}",
            ", ".join(self.deficits),
            self.tasks,
            self.mentor,
            self.next_control_on,
            self.self_check,
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "route_id": str(self.route_id),
            "teacher_id": str(self.teacher_id),
            "external_id": self.external_id,
            "teacher_name": self.teacher_name,
            "region": self.region,
            "municipality": self.municipality,
            "organisation": self.organisation,
            "subject": self.subject,
            "subject_label": subject_label(self.subject),
            "group": self.group,
            "level": LEVEL_LABELS.get(self.group),
            "status": self.status,
            "status_label": STATUS_RU.get(self.status, self.status),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "deficits": list(self.deficits),
            "tasks": self.tasks,
            "mentor_id": self.mentor_id,
            "mentor": self.mentor or None,
            "next_control_on": self.next_control_on.isoformat() if self.next_control_on else None,
            "self_check_auto": self.self_check,
        }


def _mentor(content: Mapping[str, Any], mentor_id: str | None) -> str:
    mentoring = content.get("mentoring")
    if isinstance(mentoring, Mapping):
        label = mentoring.get("label") or mentoring.get("mentor_id") or mentor_id
        return str(label) if label else NO_MENTOR
    return mentor_id or ""


def _json(raw: bytes) -> Any:
    """A value in jsonb's binary form: a version byte (1), then the JSON text in UTF-8."""
    if not raw.startswith(JSONB_VERSION):
        raise ValueError("not jsonb version 1")
    return orjson.loads(memoryview(raw)[1:])


def document(r: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a route document the export reads (KEPT), from the columns `month_query` selects;
    a part the document does not have is left out, as if read from the whole document."""
    doc: dict[str, Any] = {}
    if (raw := r["doc_period"]) is not None:
        doc["period"] = _json(raw)
    if (raw := r["doc_mentoring"]) is not None:
        doc["mentoring"] = _json(raw)
    sections: dict[str, Any] = {}
    if (raw := r["doc_deficits"]) is not None:
        sections["competency_profile"] = {"deficits": _json(raw)}
    if (raw := r["doc_goals"]) is not None:
        sections["goals"] = _json(raw)
    doc["sections"] = sections
    return doc


def export_row(r: Mapping[str, Any]) -> ExportRow:
    """Build the export row of one route (a mapping of the columns `month_query` selects)."""
    content = document(r)
    sections = content.get("sections") or {}
    goals = sections.get("goals") or []
    return ExportRow(
        route_id=r["id"],
        teacher_id=r["teacher_id"],
        external_id=r["external_id"],
        teacher_name=r["teacher_name"],
        region=r["region"],
        municipality=r["municipality"],
        organisation=r["organisation"],
        subject=r["subject"],
        group=int(r["grp"]),
        status=r["status"],
        period_start=r["period_start"],
        period_end=r["period_end"],
        deficits=tuple(str(d) for d in (sections.get("competency_profile") or {}).get("deficits") or []),
        tasks=sum(len(g.get("tasks") or []) for g in goals),
        mentor_id=r["mentor_id"],
        mentor=_mentor(content, r["mentor_id"]),
        next_control_on=r["next_control_on"],
        # The machine's part of the self-check: what people scored does not change it.
        self_check=int(evaluate(content)["auto_total"]),
    )


def export_rows(raw: Iterable[Mapping[str, Any]]) -> list[ExportRow]:
    return [export_row(r) for r in raw]


# Characters XML 1.0 cannot hold: control characters but tab, line feed and carriage return; U+FFFE, U+FFFF.
ILLEGAL_CHARACTERS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(value: Any) -> Any:
    """Escape text a spreadsheet would run as a formula, then drop control characters XML cannot hold."""
    value = safe_cell(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


# --- queries ------------------------------------------------------------------------------------

# The part of a route document the export reads, by path: period, mentoring, deficits and the goals
# (whole: the self-check reads tasks and forms); the rest (recommendations, the competency table,
# profiles) is a quarter of the bytes. tests/routes/test_exports.py checks that the self-check and
# the row read nothing else. PostgreSQL detoasts the document once (jsonb_to_record); picking the
# parts out of the stored document instead detoasts it again for each part, and building one
# document of them costs more than sending it whole (measured). Each part comes in jsonb's binary
# form (bytea): no text decoding by the driver, no encoding check by PostgreSQL, and no JSON decoding
# of a chunk at once (each row's parts are parsed, read and dropped in turn).
KEPT = {
    "": ("period", "mentoring", "sections"),
    "sections": ("competency_profile", "goals"),
    "sections.competency_profile": ("deficits",),
}
JSONB_VERSION = b"\x01"

ROW_COLUMNS = (
    routes.c.id,
    routes.c.teacher_id,
    routes.c.external_id,
    routes.c.teacher_name,
    routes.c.region,
    routes.c.municipality,
    routes.c.organisation,
    routes.c.subject,
    routes.c.grp,
    routes.c.status,
    routes.c.period_start,
    routes.c.period_end,
    routes.c.mentor_id,
    routes.c.next_control_on,
)
ORDER = ("grp", "teacher_name", "id")


def overlaps(month: Month) -> Any:
    return and_(routes.c.period_start <= month.last, routes.c.period_end >= month.first)


def month_query(month: Month, municipality: str, *conditions: Any) -> Select[Any]:
    """A municipality's routes running in the month: insufficient levels first, then by name.

    The rows are sorted with the document still a pointer to its stored value, and the document is
    read out only above the sort: sorted along with the rows, the documents (~1 GB for 80,000 routes)
    spill to disk, and nothing reaches the client until all of them are sorted. OFFSET 0 keeps
    PostgreSQL from merging the two levels; the outer ORDER BY is the inner one, so PostgreSQL sees
    the rows arrive sorted (with the municipality in it, it would not: the inner one drops a key
    fixed to one value, and the outer one would sort the documents all over again)."""
    inner = (
        select(*ROW_COLUMNS, routes.c.content)
        .where(routes.c.municipality == municipality, overlaps(month), *conditions)
        .order_by(*(routes.c[k] for k in ORDER))
        .offset(0)
        .subquery("sorted")
    )
    doc = (
        func.jsonb_to_record(inner.c.content)
        .table_valued(column("period", JSONB), column("mentoring", JSONB), column("sections", JSONB))
        .render_derived(name="doc", with_types=True)
    )
    parts = {
        "doc_period": doc.c.period,
        "doc_mentoring": doc.c.mentoring,
        "doc_deficits": doc.c.sections[("competency_profile", "deficits")],
        "doc_goals": doc.c.sections["goals"],
    }
    return (
        select(
            *(inner.c[c.name] for c in ROW_COLUMNS),
            *(func.jsonb_send(part, type_=LargeBinary).label(name) for name, part in parts.items()),
        )
        .select_from(inner.join(doc, true()))
        .order_by(*(inner.c[k] for k in ORDER))
    )


async def fetch_chunks(
    conn: AsyncConnection, query: Select[Any], size: int = CHUNK_ROWS
) -> AsyncGenerator[list[Any], None]:
    """Rows of `query` through a server-side cursor, `size` at a time."""
    result = await conn.stream(query.execution_options(yield_per=size))
    try:
        async for part in result.mappings().partitions(size):
            yield list(part)
    finally:
        await result.close()


def export_scope(principal: Principal) -> Any:
    """SQL condition limiting export records to the caller's scope (Principal.sees): no school or teacher
    has exports."""
    from kit.db import scope_condition  # here: the export job's worker processes need no web stack

    return scope_condition(principal, region=exports.c.region, municipality=exports.c.municipality)


class ExportRecords:
    """Queries of the `exports` table."""

    def __init__(self, conn: Any) -> None:
        self.c = conn  # AsyncSession or AsyncConnection

    async def search(
        self,
        principal: Principal,
        *,
        month: str | None,
        municipality: str | None,
        fmt: str | None,
        after: tuple[str, str, str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = select(exports).where(export_scope(principal))
        if month:
            q = q.where(exports.c.month == month)
        if municipality is not None:
            q = q.where(exports.c.municipality == municipality)
        if fmt:
            q = q.where(exports.c.format == fmt)
        if after is not None:
            m, mun, reg, f = after
            key = tuple_(exports.c.municipality, exports.c.region, exports.c.format)
            q = q.where((exports.c.month < m) | and_(exports.c.month == m, key > tuple_(mun, reg, f)))
        q = q.order_by(exports.c.month.desc(), exports.c.municipality, exports.c.region, exports.c.format)
        q = q.limit(limit)
        return [dict(r._mapping) for r in await self.c.execute(q)]

    async def get(self, principal: Principal, export_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(exports).where(exports.c.id == export_id, export_scope(principal))
        r = (await self.c.execute(q)).first()
        return dict(r._mapping) if r else None

    async def of_month(self, month: str) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.c.execute(select(exports).where(exports.c.month == month))]

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            stmt = pg_insert(exports).values(**row)
            stmt = stmt.on_conflict_do_update(
                index_elements=[exports.c.month, exports.c.region, exports.c.municipality, exports.c.format],
                set_={
                    **{k: stmt.excluded[k] for k in row if k not in ("month", "region", "municipality", "format")},
                    "created_at": func.now(),
                },
            )
            await self.c.execute(stmt)

    async def delete(self, ids: list[uuid.UUID]) -> None:
        if ids:
            await self.c.execute(delete(exports).where(exports.c.id.in_(ids)))


# --- writers ------------------------------------------------------------------------------------


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class CsvWriter:
    """UTF-8 with BOM, `;`-separated, CRLF: what Excel opens correctly in a Russian locale."""

    def __init__(self, sink: ByteSink) -> None:
        self.sink = sink
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, delimiter=";", lineterminator="\r\n")
        sink.write(codecs.BOM_UTF8)
        self._csv.writerow(HEADERS)
        self._flush()

    def _flush(self) -> None:
        self.sink.write(self._buf.getvalue().encode("utf-8"))
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, rows: Sequence[ExportRow]) -> None:
        for row in rows:
            values = row.cells()
            d = values[DATE_COLUMN]
            values[DATE_COLUMN] = f"{d:%d.%m.%Y}" if d else ""
            self._csv.writerow([clean_text(v) for v in values])
        self._flush()

    def finish(self) -> None:
        self._flush()


class JsonWriter:
    """A JSON array, one object per line, written as rows come."""

    def __init__(self, sink: ByteSink) -> None:
        self.sink = sink
        self.count = 0
        sink.write(b"[")

    def write(self, rows: Sequence[ExportRow]) -> None:
        parts = []
        for row in rows:
            parts.append(b",\n" if self.count else b"\n")
            parts.append(orjson.dumps(row.as_json()))
            self.count += 1
        self.sink.write(b"".join(parts))

    def finish(self) -> None:
        self.sink.write(b"\n]\n" if self.count else b"]\n")


# --- XLSX ---------------------------------------------------------------------------------------
#
# The workbook is written directly as SpreadsheetML: a fixed styles part, inline strings, one
# string per row. openpyxl built several objects per cell (about 120 µs a row, most of the
# export's time); this writes the same sheet for a tenth of that. A sheet is deflated once, as its
# rows arrive, into a part file; the municipal workbook and the region workbook both copy those
# compressed bytes into their zip, so no sheet is serialised or compressed twice.

# zlib level 6 deflates a sheet 3x slower than level 1 for a file ~20% smaller (measured; either is small).
ZIP_LEVEL = 1
LETTERS = tuple(chr(ord("A") + i) for i in range(len(HEADERS)))
LAST_COLUMN = LETTERS[-1]
# Excel's day 0 (it counts 1900 as a leap year, so serial numbers from March 1900 are days since this).
EXCEL_EPOCH = date(1899, 12, 30).toordinal()
# Cell styles (cellXfs) of STYLES_XML, by position.
STYLE_HEADER, STYLE_DAY, STYLE_LOW, STYLE_LOW_DAY = 1, 2, 3, 4
HEADER_FILL = "00DCE6F1"
LOW_FILL = "00FCE4D6"  # group 1: insufficient level, look first
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

STYLES_XML = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="DD.MM.YYYY"/></numFmts>'
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="4"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{HEADER_FILL}"/></patternFill></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{LOW_FILL}"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left/><right/><top/><bottom style="thin"><color rgb="008EA9DB"/></bottom><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" '
    'applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="3" borderId="0" xfId="0" applyNumberFormat="1" applyFill="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def xml_escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _attr(text: str) -> str:
    return xml_escape(text).replace('"', "&quot;")


class _InlineText:
    """`<is><t>…</t></is>` of a cell text: formula-escaped, without XML-illegal characters, XML-escaped.

    Most texts repeat (subjects, levels, statuses, schools, mentors), so they are kept, up to a bound."""

    LIMIT = 50_000
    CELL_CHARACTERS = 32_767  # Excel's limit (openpyxl cut texts there too)

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        out = self.known.get(value)
        if out is None:
            text = clean_text(value)[: self.CELL_CHARACTERS]
            if not text:
                out = ""
            else:
                space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
                out = f"<is><t{space}>{xml_escape(ooxml_literal(text))}</t></is>"
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            self.known[value] = out
        return out


def _cells_xml(n: int, values: Sequence[Any], style: int, date_style: int, text: _InlineText) -> str:
    """One `<row>`: texts inline, numbers as numbers, dates as Excel serial days; empty cells only when styled."""
    s = f' s="{style}"' if style else ""
    r = str(n)
    out = [f'<row r="{r}" ht="32" customHeight="1">' if n == 1 else f'<row r="{r}">']
    for letter, value in zip(LETTERS, values, strict=True):
        kind = value.__class__
        if kind is str:
            body = text(value)
            if body:
                out.append(f'<c r="{letter}{r}"{s} t="inlineStr">{body}</c>')
            elif s:
                out.append(f'<c r="{letter}{r}"{s}/>')
        elif kind is int:
            out.append(f'<c r="{letter}{r}"{s}><v>{value}</v></c>')
        elif value is None:
            if s:
                out.append(f'<c r="{letter}{r}"{s}/>')
        elif isinstance(value, date):
            out.append(f'<c r="{letter}{r}" s="{date_style}"><v>{value.toordinal() - EXCEL_EPOCH}</v></c>')
        else:
            out.append(f'<c r="{letter}{r}"{s}><v>{int(value)}</v></c>')
    out.append("</row>")
    return "".join(out)


def autofilter_ref(rows: int) -> str:
    return f"A1:{LAST_COLUMN}{rows + 1}"


def _sheet_start() -> str:
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(COLUMN_WIDTHS, start=1)
    )
    return (
        f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
        + _cells_xml(1, HEADERS, STYLE_HEADER, STYLE_HEADER, _InlineText())
    )


SHEET_START = _sheet_start()


def _sheet_end(rows: int) -> str:
    return (
        f'</sheetData><autoFilter ref="{autofilter_ref(rows)}"/>'
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        '<pageSetup orientation="landscape" fitToHeight="0"/></worksheet>'
    )


@dataclass(frozen=True)
class SheetPart:
    """A sheet's XML, deflated (raw, no zlib header) in a file: what a workbook's zip entry holds."""

    path: Path
    rows: int
    crc: int
    size: int
    compressed: int


class XlsxSheet:
    """One municipality's sheet: bold filled header, widths, frozen header, autofilter, group 1 highlighted.

    Rows are turned into XML and deflated as they come; `finish` gives the part every workbook copies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._text = _InlineText()
        self._sink = open(path, "wb")
        self._zip = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
        self._crc = 0
        self._size = 0
        self._compressed = 0
        self._put(SHEET_START)

    def _put(self, xml: str) -> None:
        data = xml.encode()
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._emit(self._zip.compress(data))

    def _emit(self, data: bytes) -> None:
        if data:
            self._sink.write(data)
            self._compressed += len(data)

    def write(self, rows: Sequence[ExportRow]) -> None:
        n, text, out = self.rows + 1, self._text, []
        for row in rows:
            n += 1
            low = row.group == 1
            out.append(_cells_xml(n, row.cells(), STYLE_LOW if low else 0, STYLE_LOW_DAY if low else STYLE_DAY, text))
        self._put("".join(out))
        self.rows += len(rows)

    def finish(self) -> SheetPart:
        self._put(_sheet_end(self.rows))
        self._emit(self._zip.flush())
        self._sink.close()
        return SheetPart(self.path, self.rows, self._crc, self._size, self._compressed)

    def discard(self) -> None:
        self._sink.close()
        self.path.unlink(missing_ok=True)


class StableZip:
    """A zip of deflated entries that all carry one timestamp and mode, so equal content gives equal bytes.

    Entries are written whole (sizes and CRC in the local header); a sheet part's compressed bytes
    are copied as they are. No ZIP64: a workbook of this export stays far below 4 GiB."""

    LIMIT = 0xFFFFFFFF

    def __init__(self, sink: BinaryIO, stamp: datetime) -> None:
        self.sink = sink
        self.offset = 0
        self.entries: list[tuple[bytes, int, int, int, int]] = []
        self.time = (stamp.hour << 11) | (stamp.minute << 5) | (stamp.second // 2)
        self.date = ((stamp.year - 1980) << 9) | (stamp.month << 5) | stamp.day

    def _put(self, data: bytes) -> None:
        self.sink.write(data)
        self.offset += len(data)

    def _header(self, name: str, crc: int, size: int, compressed: int) -> None:
        if max(size, compressed, self.offset) > self.LIMIT:
            raise ExportRefused("a workbook would exceed 4 GiB; export fewer routes per file")
        raw = name.encode()
        self.entries.append((raw, crc, size, compressed, self.offset))
        self._put(
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, self.time, self.date, crc, compressed, size, len(raw), 0)
            + raw
        )

    def add(self, name: str, text: str) -> None:
        data = text.encode()
        z = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
        packed = z.compress(data) + z.flush()
        self._header(name, zlib.crc32(data), len(data), len(packed))
        self._put(packed)

    def add_part(self, name: str, part: SheetPart) -> None:
        self._header(name, part.crc, part.size, part.compressed)
        with open(part.path, "rb") as src:
            while block := src.read(1 << 20):
                self._put(block)

    def close(self) -> None:
        start = self.offset
        for raw, crc, size, compressed, offset in self.entries:
            self._put(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    (3 << 8) | 20,  # made by: Unix, zip 2.0
                    20,
                    0,
                    8,
                    self.time,
                    self.date,
                    crc,
                    compressed,
                    size,
                    len(raw),
                    0,
                    0,
                    0,
                    0,
                    0o100644 << 16,
                    offset,
                )
                + raw
            )
        count = len(self.entries)
        if self.offset > self.LIMIT or count > 0xFFFF:
            raise ExportRefused("a workbook would exceed the zip limits; export fewer routes per file")
        self._put(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, self.offset - start, start, 0))


def sheet_title(code: str, used: set[str]) -> str:
    """A valid, unique sheet title (31 characters, none of []:*?/\\ nor characters XML cannot hold)."""
    base = ILLEGAL_CHARACTERS_RE.sub("", re.sub(r"[\[\]:*?/\\]", "_", code)).strip("'")[:31] or "МО"
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title


def write_workbook(sink: BinaryIO, month: Month, sheets: Sequence[tuple[str, SheetPart]]) -> None:
    """A workbook of the given sheets (title, part), in that order; the first one is active."""
    stamp = f"{month.stamp:%Y-%m-%dT%H:%M:%SZ}"
    title = _attr(f"Индивидуальные образовательные маршруты, {month.key}")
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>'
        for i in range(1, len(sheets) + 1)
    )
    z = StableZip(sink, month.stamp)
    z.add(
        "[Content_Types].xml",
        f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{overrides}</Types>",
    )
    z.add(
        "_rels/.rels",
        f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_NS_REL}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>",
    )
    z.add(
        "docProps/app.xml",
        f'{_XML_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>IOM platform</Application></Properties>",
    )
    z.add(
        "docProps/core.xml",
        f"{_XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>IOM platform</dc:creator><dc:title>{title}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>',
    )
    names = "".join(
        f'<sheet name="{_attr(t)}" sheetId="{i}" r:id="rId{i}"/>' for i, (t, _) in enumerate(sheets, start=1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{xml_escape(_quoted(t))}!$A$1:${LAST_COLUMN}${part.rows + 1}</definedName>"
        for i, (t, part) in enumerate(sheets)
    )
    z.add(
        "xl/workbook.xml",
        f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><workbookPr/>'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{names}</sheets>"
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>',
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    z.add(
        "xl/_rels/workbook.xml.rels",
        f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{rels}'
        f'<Relationship Id="rId{len(sheets) + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/></Relationships>',
    )
    z.add("xl/styles.xml", STYLES_XML)
    for i, (_, part) in enumerate(sheets, start=1):
        z.add_part(f"xl/worksheets/sheet{i}.xml", part)
    z.close()


def _quoted(title: str) -> str:
    """A sheet title as a formula names it."""
    return "'" + title.replace("'", "''") + "'"


# --- files --------------------------------------------------------------------------------------


@dataclass
class WrittenFile:
    municipality: str  # "" for the region workbook
    region: str
    fmt: str
    path: Path
    rows: int
    sha256: str
    size_bytes: int


class AtomicFile:
    """Written under a hidden temporary name in the target folder and renamed into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")

    def open(self) -> BinaryIO:
        return open(self.tmp, "wb")

    def commit(self) -> tuple[str, int]:
        """fsync, hash, rename; return (sha256, size)."""
        with open(self.tmp, "rb") as f:
            os.fsync(f.fileno())
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        size = self.tmp.stat().st_size
        os.replace(self.tmp, self.final)
        return digest, size

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def file_stem(code: str, taken: set[str]) -> str:
    """A safe file name for a code, unique among `taken` (the region workbooks' names are taken first)."""
    stem = re.sub(r"[^0-9A-Za-z._-]", "_", code).lstrip(".") or "mo"
    if stem.lower() in taken:
        stem = f"{stem}-{hashlib.sha256(code.encode()).hexdigest()[:8]}"
    taken.add(stem.lower())
    return stem


class MunicipalFiles:
    """The files of one municipality, written together as its rows stream by."""

    def __init__(
        self,
        month: Month,
        month_dir: Path,
        work_dir: Path,
        region: str,
        municipality: str,
        stem: str,
        title: str,
        formats: Sequence[str],
    ) -> None:
        self.month, self.region, self.municipality, self.title = month, region, municipality, title
        self.rows = 0
        self.files = {fmt: AtomicFile(month_dir / f"{stem}.{fmt}") for fmt in formats}
        self.sinks: dict[str, BinaryIO] = {}
        self.writers: dict[str, Any] = {}
        self.sheet: XlsxSheet | None = None
        self.sheet_part: SheetPart | None = None
        for fmt, f in self.files.items():
            if fmt == "xlsx":
                self.sheet = self.writers[fmt] = XlsxSheet(work_dir / f"{stem}.sheet")
                continue
            self.sinks[fmt] = f.open()
            self.writers[fmt] = CsvWriter(self.sinks[fmt]) if fmt == "csv" else JsonWriter(self.sinks[fmt])

    def write(self, rows: Sequence[ExportRow]) -> None:
        for w in self.writers.values():
            w.write(rows)
        self.rows += len(rows)

    def finish(self) -> list[WrittenFile]:
        out = []
        for fmt, f in self.files.items():
            if fmt == "xlsx":
                assert self.sheet is not None
                self.sheet_part = self.sheet.finish()
                with f.open() as sink:
                    write_workbook(sink, self.month, [(self.title, self.sheet_part)])
            else:
                self.writers[fmt].finish()
                self.sinks[fmt].close()
            digest, size = f.commit()
            out.append(WrittenFile(self.municipality, self.region, fmt, f.final, self.rows, digest, size))
        return out

    def discard(self) -> None:
        for s in self.sinks.values():
            s.close()
        if self.sheet is not None:
            self.sheet.discard()
        for f in self.files.values():
            f.discard()


# --- progress -----------------------------------------------------------------------------------


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% in logs."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int, label: str = "") -> None:
        with self._lock:  # this process's rows (a worker thread) and the other processes' (the event loop)
            self._advance(n, label)

    def _advance(self, n: int, label: str) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._draw(label, end="\r")
                self._last_draw = now
        else:
            decile = self.done * 10 // max(self.total, 1)
            if decile != self._last_decile:
                self._last_decile = decile
                self._draw(label, end="\n")

    def _draw(self, label: str, end: str) -> None:
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {share:4.0%} {self.done}/{self.total} routes {time.monotonic() - self.t0:5.1f}s {label}"
        self.stream.write(line.ljust(90) + end)
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self._draw("", end="\n")


# --- the job ------------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    month: str
    directory: Path
    municipalities: int = 0
    routes: int = 0
    files: list[WrittenFile] = field(default_factory=list)
    removed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "directory": str(self.directory),
            "municipalities": self.municipalities,
            "routes": self.routes,
            "files": len(self.files),
            "removed_stale": self.removed,
            "seconds": round(self.seconds, 2),
        }


async def _try_lock(conn: AsyncConnection) -> bool:
    got = (await conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY)))).scalar_one()
    await conn.commit()
    return bool(got)


async def run_export(
    engine: AsyncEngine,
    month: Month,
    out_root: Path,
    formats: Sequence[str] = FORMATS,
    *,
    workers: int = 1,
    progress: TextIO | None = None,
    show_progress: bool = True,
) -> ExportSummary:
    """Write every municipality's files for the month plus the region workbook; record them.

    Refuses (ExportBusy) while another run holds the lock. Files are replaced atomically; records
    of files this run no longer produces (a municipality without routes now) are removed. With
    `workers` > 1 the municipalities are shared among that many processes (same bytes either way).
    """
    async with engine.connect() as lock_conn:
        if not await _try_lock(lock_conn):
            raise ExportBusy("another monthly export is running (its database lock is held); try again later")
        try:
            bar = Progress(0, progress) if show_progress else None
            try:
                return await _export_locked(engine, month, out_root, formats, workers, bar)
            finally:
                if bar is not None:
                    bar.close()
        finally:
            await lock_conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
            await lock_conn.commit()


async def pipelined(chunks: AsyncGenerator[list[Any], None], consume: Callable[[list[Any]], None]) -> None:
    """Consume each chunk in a worker thread while the next one is fetched, so the database works meanwhile."""
    ahead = asyncio.ensure_future(anext(chunks, None))
    try:
        while (raw := await ahead) is not None:
            ahead = asyncio.ensure_future(anext(chunks, None))
            await asyncio.to_thread(consume, raw)
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead
        await chunks.aclose()


@dataclass(frozen=True)
class Plan:
    """What the run writes: the municipalities in sheet order, each with its file stem and sheet title."""

    month: Month
    month_dir: Path
    work_dir: Path
    formats: tuple[str, ...]
    regions: dict[str, str]  # region -> its workbook's file stem
    names: dict[str, tuple[str, str]]  # municipality -> (file stem, sheet title), in sheet order
    region_of: dict[str, str]  # municipality -> region
    counts: dict[str, int]


@dataclass
class Part:
    """What one process wrote: files, and per municipality its deflated sheet and row count."""

    files: list[WrittenFile] = field(default_factory=list)
    sheets: dict[str, SheetPart] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


class MonthFiles:
    """Files of a set of municipalities, written as chunks of rows arrive (synchronous: a worker thread)."""

    def __init__(self, plan: Plan, bar: Any) -> None:
        self.plan, self.bar = plan, bar
        self.current: MunicipalFiles | None = None
        self.part = Part()

    def consume(self, raw: list[Any]) -> None:
        rows = export_rows(raw)
        for municipality, group in groupby(rows, key=lambda r: r.municipality):
            part = list(group)
            if self.current is None or self.current.municipality != municipality:
                self._close_current()
                stem, title = self.plan.names[municipality]
                self.current = MunicipalFiles(
                    self.plan.month,
                    self.plan.month_dir,
                    self.plan.work_dir,
                    part[0].region,
                    municipality,
                    stem,
                    title,
                    self.plan.formats,
                )
            self.current.write(part)
        if self.bar is not None and rows:
            self.bar.advance(len(rows), rows[-1].municipality)

    def _close_current(self) -> None:
        if self.current is not None:
            self.part.files += self.current.finish()
            self.part.rows[self.current.municipality] = self.current.rows
            if self.current.sheet_part is not None:
                self.part.sheets[self.current.municipality] = self.current.sheet_part
            self.current = None

    def finish(self) -> Part:
        self._close_current()
        return self.part

    def discard(self) -> None:
        """Drop the temporary files of an unfinished municipality."""
        if self.current is not None:
            self.current.discard()
            self.current = None


class NextMunicipality:
    """The municipalities still to write, largest first, handed out one at a time to whichever
    process asks: a process slowed down (by its start, by other work on the machine) takes fewer."""

    def __init__(self, order: list[str], taken: Any = None) -> None:
        self.order = order
        self.taken = taken  # a multiprocessing Value shared by the processes; None in one process
        self._next = 0

    def __call__(self) -> str | None:
        if self.taken is None:
            i, self._next = self._next, self._next + 1
        else:
            with self.taken.get_lock():
                i = self.taken.value
                self.taken.value = i + 1
        return self.order[i] if i < len(self.order) else None


async def write_part(engine: AsyncEngine, plan: Plan, take: Callable[[], str | None], bar: Any) -> Part:
    """Write the files of the municipalities `take` hands out, streaming the rows of each."""
    files = MonthFiles(plan, bar)
    try:
        async with engine.connect() as conn:
            await pipelined(_chunks(conn, plan.month, take), files.consume)
        return await asyncio.to_thread(files.finish)
    finally:
        await asyncio.to_thread(files.discard)


async def _chunks(
    conn: AsyncConnection, month: Month, take: Callable[[], str | None]
) -> AsyncGenerator[list[Any], None]:
    """The rows of one municipality after another, as one stream: the next one's first rows are
    fetched while the last ones of the previous are written."""
    while (municipality := take()) is not None:
        async for chunk in fetch_chunks(conn, month_query(month, municipality)):
            yield chunk


async def _export_locked(
    engine: AsyncEngine,
    month: Month,
    out_root: Path,
    formats: Sequence[str],
    workers: int,
    bar: Progress | None,
) -> ExportSummary:
    t0 = time.monotonic()
    month_dir = (out_root / month.key).resolve()
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                select(routes.c.region, routes.c.municipality, func.count())
                .where(overlaps(month))
                .group_by(routes.c.region, routes.c.municipality)
                .order_by(routes.c.municipality, routes.c.region)
            )
        ).all()
        await conn.commit()
    await asyncio.to_thread(_prepare_folder, month_dir)
    stems: set[str] = set()
    regions = {r: file_stem(f"{REGION_FILE}-{r}", stems) for r in sorted({str(r) for r, _, _ in counts})}
    titles: dict[str, set[str]] = {r: set() for r in regions}  # sheet titles are unique within a workbook
    plan = Plan(
        month,
        month_dir,
        month_dir / f".work-{os.getpid()}",
        tuple(formats),
        regions,
        {str(m): (file_stem(str(m), stems), sheet_title(str(m), titles[str(r)])) for r, m, _ in counts},
        {str(m): str(r) for r, m, _ in counts},
        {str(m): int(n) for _, m, n in counts},
    )
    if bar is not None:
        bar.total = sum(plan.counts.values())
    summary = ExportSummary(month.key, month_dir)
    try:
        await asyncio.to_thread(plan.work_dir.mkdir)
        processes = min(workers, len(plan.counts))
        if processes > 1:
            parts = await _in_processes(engine, plan, processes, bar)
        else:
            parts = [await write_part(engine, plan, NextMunicipality(largest_first(plan.counts)), bar)]
        files = [f for p in parts for f in p.files]
        sheets = {m: sheet for p in parts for m, sheet in p.sheets.items()}
        if "xlsx" in formats:
            for region, stem in plan.regions.items():
                ordered = [
                    (plan.names[m][1], sheets[m]) for m in plan.names if m in sheets and plan.region_of[m] == region
                ]
                if ordered:
                    files.append(await asyncio.to_thread(_region_workbook, month, month_dir, region, stem, ordered))
    finally:
        await asyncio.to_thread(shutil.rmtree, plan.work_dir, True)
    summary.files = files
    summary.municipalities = sum(len(p.rows) for p in parts)
    summary.routes = sum(n for p in parts for n in p.rows.values())
    summary.removed = await _record(engine, month, month_dir, formats, files)
    summary.seconds = time.monotonic() - t0
    return summary


def _prepare_folder(month_dir: Path) -> None:
    month_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(month_dir)


def largest_first(counts: dict[str, int]) -> list[str]:
    return sorted(counts, key=lambda k: (-counts[k], k))


class _QueueProgress:
    """Progress of a worker process, sent to the parent's bar."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def advance(self, n: int, label: str = "") -> None:
        self.queue.put(("progress", n, label))


def _worker(queue: Any, url: str, plan: Plan, take: NextMunicipality) -> None:
    """A worker process: write municipalities' files as long as there are any; report them (or the failure)."""

    from kit.db import make_engine

    async def run() -> Part:
        engine = make_engine(url, pool_size=1, max_overflow=0, application_name="routes-export")
        try:
            return await write_part(engine, plan, take, _QueueProgress(queue))
        finally:
            await engine.dispose()

    try:
        queue.put(("done", asyncio.run(run())))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


async def _in_processes(engine: AsyncEngine, plan: Plan, processes: int, bar: Progress | None) -> list[Part]:
    """This process and `processes` - 1 spawned ones write the municipalities, each taking the next one free."""
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding an event loop and connections
    queue = ctx.Queue()
    take = NextMunicipality(largest_first(plan.counts), ctx.Value("i", 0))
    procs = [ctx.Process(target=_worker, args=(queue, url, plan, take), daemon=True) for _ in range(processes - 1)]
    for p in procs:
        p.start()
    own = asyncio.ensure_future(write_part(engine, plan, take, bar))
    parts: list[Part] = []
    try:
        while len(parts) < len(procs):
            if own.done():
                own.result()  # raises what it failed with
            try:
                message = await asyncio.to_thread(queue.get, True, 0.5)
            except Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("an export worker process died") from None
                continue
            if message[0] == "progress":
                if bar is not None:
                    bar.advance(message[1], message[2])
            elif message[0] == "done":
                parts.append(message[1])
            else:
                raise RuntimeError(f"an export worker process failed:\n{message[1]}")
        parts.insert(0, await own)
    finally:
        if not own.done():
            own.cancel()
            with contextlib.suppress(BaseException):
                await own
        for p in procs:
            if p.is_alive() and len(parts) < len(procs):
                p.terminate()
            await asyncio.to_thread(p.join)
    return parts


def _region_workbook(
    month: Month, month_dir: Path, region: str, stem: str, sheets: list[tuple[str, SheetPart]]
) -> WrittenFile:
    """One sheet per municipality of the region: the very sheets of the municipal files, copied as they were
    deflated."""
    f = AtomicFile(month_dir / f"{stem}.xlsx")
    try:
        with f.open() as sink:
            write_workbook(sink, month, sheets)
        digest, size = f.commit()
    except BaseException:
        f.discard()
        raise
    return WrittenFile("", region, "xlsx", f.final, sum(p.rows for _, p in sheets), digest, size)


def _remove_leftovers(month_dir: Path) -> None:
    """Temporary files of an interrupted run (no other run is active: we hold the lock)."""
    for p in month_dir.glob(".*.tmp"):
        p.unlink(missing_ok=True)
    for p in month_dir.glob(".work-*"):
        shutil.rmtree(p, ignore_errors=True)


async def _record(
    engine: AsyncEngine, month: Month, month_dir: Path, formats: Sequence[str], files: list[WrittenFile]
) -> int:
    """Upsert a record per file; drop records (and files) of this month's formats not produced now, and the
    files a record no longer names (a region workbook written as `region.xlsx` before it had its code)."""
    produced = {(f.region, f.municipality, f.fmt): f.path for f in files}
    async with engine.begin() as conn:
        repo = ExportRecords(conn)
        before = await repo.of_month(month.key)
        await repo.upsert(
            [
                {
                    "month": month.key,
                    "region": f.region,
                    "municipality": f.municipality,
                    "format": f.fmt,
                    "filename": f.path.name,
                    "path": str(f.path),
                    "sha256": f.sha256,
                    "size_bytes": f.size_bytes,
                    "rows": f.rows,
                }
                for f in files
            ]
        )
        stale = [
            r
            for r in before
            if r["format"] in formats and (r["region"], r["municipality"], r["format"]) not in produced
        ]
        await repo.delete([r["id"] for r in stale])
    renamed = [
        Path(r["path"])
        for r in before
        if (key := (r["region"], r["municipality"], r["format"])) in produced and Path(r["path"]) != produced[key]
    ]
    _unlink_inside(month_dir, [Path(r["path"]) for r in stale] + renamed)
    return len(stale)


def _unlink_inside(folder: Path, paths: list[Path]) -> None:
    for p in paths:
        if p.parent == folder:
            p.unlink(missing_ok=True)
