"""Write XLSX workbooks fast and byte for byte the same: sheets deflated as rows arrive, a zip of fixed stamps.

Domain-free: a caller gives the layout (headers, widths, fills, the date format) and rows of plain
values (text, int, date, None), each flagged highlighted or not. A sheet is written directly as
SpreadsheetML (a fixed styles part, inline strings, one string per row) and deflated once, as its
rows arrive, into a part file; every workbook that holds the sheet copies those compressed bytes
into its zip, so no sheet is serialised or compressed twice. Every zip entry carries one timestamp
and mode and the document properties carry the caller's stamp: equal rows give equal bytes.

Why not xlsxwriter: `benchmarks/routes.py --teachers 20000` (2026-12-07, 2 shared cores, load ~5)
wrote one sheet of the same 20,000 export rows both ways, each in a child process: this writer
0.23 s, xlsxwriter with constant_memory=True 1.07 s (4.7x the time; at 2,000 rows 0.14 s against
0.45 s, 3.2x), both adding ~1 MB of memory. The bar for adopting xlsxwriter was 1.3x. It would also
serialise and compress each sheet again for a workbook holding many (a region's).
openpyxl built several objects per cell (about 120 µs a row); this writes a row in about a tenth.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

from kit.tabular import ooxml_literal, safe_cell

# Characters XML 1.0 cannot hold: control characters but tab, line feed and carriage return; U+FFFE, U+FFFF.
ILLEGAL_CHARACTERS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# zlib level 6 deflates a sheet 3x slower than level 1 for a file ~20% smaller (measured; either is small).
ZIP_LEVEL = 1
# Excel's day 0 (it counts 1900 as a leap year, so serial numbers from March 1900 are days since this).
EXCEL_EPOCH = date(1899, 12, 30).toordinal()
# Cell styles (cellXfs) of `SheetLayout.styles_xml`, by position.
STYLE_HEADER, STYLE_DAY, STYLE_HIGHLIGHT, STYLE_HIGHLIGHT_DAY = 1, 2, 3, 4
SHEET_TITLE_CHARACTERS = 31
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class WorkbookTooLarge(ValueError):
    """The workbook would exceed what a zip without ZIP64 holds (4 GiB, 65,535 entries)."""


def clean_text(value: Any) -> Any:
    """Escape text a spreadsheet would run as a formula, then drop control characters XML cannot hold."""
    value = safe_cell(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


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


def column_letter(index: int) -> str:
    """The letters of a 0-based column index (0 -> A, 25 -> Z, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class SheetLayout:
    """What every sheet of a workbook shares: its header row, column widths, fills and date format."""

    headers: tuple[str, ...]
    widths: tuple[float, ...]
    header_fill: str = "00DCE6F1"  # ARGB
    highlight_fill: str = "00FCE4D6"  # ARGB, of the rows flagged highlighted
    header_height: int = 32
    date_format: str = "DD.MM.YYYY"
    letters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.headers) != len(self.widths):
            raise ValueError("a width per header")
        object.__setattr__(self, "letters", tuple(column_letter(i) for i in range(len(self.headers))))

    @property
    def last_column(self) -> str:
        return self.letters[-1]

    @cached_property
    def styles_xml(self) -> str:
        return (
            f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
            f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{_attr(self.date_format)}"/></numFmts>'
            '<fonts count="2">'
            '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            "</fonts>"
            '<fills count="4"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="{self.header_fill}"/></patternFill></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="{self.highlight_fill}"/></patternFill></fill>'
            "</fills>"
            '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '<border><left/><right/><top/><bottom style="thin"><color rgb="008EA9DB"/></bottom><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="5">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" '
            'applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>'
            '<xf numFmtId="164" fontId="0" fillId="3" borderId="0" xfId="0" applyNumberFormat="1" applyFill="1"/>'
            "</cellXfs>"
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )

    @cached_property
    def sheet_start(self) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(self.widths, start=1)
        )
        return (
            f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
            + row_xml(self, 1, self.headers, STYLE_HEADER, STYLE_HEADER, InlineText())
        )

    def sheet_end(self, rows: int) -> str:
        return (
            f'</sheetData><autoFilter ref="{self.filter_ref(rows)}"/>'
            '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
            '<pageSetup orientation="landscape" fitToHeight="0"/></worksheet>'
        )

    def filter_ref(self, rows: int) -> str:
        """The autofilter's range over the header and `rows` data rows."""
        return f"A1:{self.last_column}{rows + 1}"


class InlineText:
    """`<is><t>…</t></is>` of a cell text: formula-escaped, without XML-illegal characters, XML-escaped.

    Most texts repeat (in a list of people: schools, statuses, labels), so they are kept, up to a bound."""

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


def row_xml(layout: SheetLayout, n: int, values: Sequence[Any], style: int, date_style: int, text: InlineText) -> str:
    """One `<row>`: texts inline, numbers as numbers, dates as Excel serial days; empty cells only when styled."""
    s = f' s="{style}"' if style else ""
    r = str(n)
    out = [f'<row r="{r}" ht="{layout.header_height}" customHeight="1">' if n == 1 else f'<row r="{r}">']
    for letter, value in zip(layout.letters, values, strict=True):
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


@dataclass(frozen=True)
class SheetPart:
    """A sheet's XML, deflated (raw, no zlib header) in a file: what a workbook's zip entry holds."""

    path: Path
    rows: int
    crc: int
    size: int
    compressed: int
    last_column: str = ""  # of its own layout; "" for the workbook's layout


class XlsxSheet:
    """One sheet: bold filled header, widths, frozen header, autofilter, highlighted rows filled.

    Rows are turned into XML and deflated as they come; `finish` gives the part every workbook copies."""

    def __init__(self, path: Path, layout: SheetLayout) -> None:
        self.path, self.layout = path, layout
        self.rows = 0
        self._text = InlineText()
        self._sink = open(path, "wb")
        self._zip = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
        self._crc = 0
        self._size = 0
        self._compressed = 0
        self._put(layout.sheet_start)

    def _put(self, xml: str) -> None:
        data = xml.encode()
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._emit(self._zip.compress(data))

    def _emit(self, data: bytes) -> None:
        if data:
            self._sink.write(data)
            self._compressed += len(data)

    def write(self, rows: Iterable[tuple[Sequence[Any], bool]]) -> None:
        """Append rows, each its values in header order and whether it is highlighted."""
        layout, n, text, out = self.layout, self.rows + 1, self._text, []
        for values, highlighted in rows:
            n += 1
            if highlighted:
                out.append(row_xml(layout, n, values, STYLE_HIGHLIGHT, STYLE_HIGHLIGHT_DAY, text))
            else:
                out.append(row_xml(layout, n, values, 0, STYLE_DAY, text))
        self._put("".join(out))
        self.rows = n - 1

    def finish(self) -> SheetPart:
        self._put(self.layout.sheet_end(self.rows))
        self._emit(self._zip.flush())
        self._sink.close()
        return SheetPart(self.path, self.rows, self._crc, self._size, self._compressed, self.layout.last_column)

    def discard(self) -> None:
        self._sink.close()
        self.path.unlink(missing_ok=True)


class StableZip:
    """A zip of deflated entries that all carry one timestamp and mode, so equal content gives equal bytes.

    Entries are written whole (sizes and CRC in the local header); a sheet part's compressed bytes
    are copied as they are. No ZIP64: WorkbookTooLarge past 4 GiB."""

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
            raise WorkbookTooLarge("книга превысила бы 4 ГиБ")
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
            raise WorkbookTooLarge("книга превысила бы пределы формата ZIP")
        self._put(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, self.offset - start, start, 0))


def sheet_title(name: str, used: set[str], fallback: str = "Sheet") -> str:
    """A valid sheet title unique among `used` (31 characters, none of []:*?/\\ nor characters XML cannot hold)."""
    base = ILLEGAL_CHARACTERS_RE.sub("", re.sub(r"[\[\]:*?/\\]", "_", name)).strip("'")
    base = base[:SHEET_TITLE_CHARACTERS] or fallback
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: SHEET_TITLE_CHARACTERS - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title


def _quoted(title: str) -> str:
    """A sheet title as a formula names it."""
    return "'" + title.replace("'", "''") + "'"


def write_workbook(
    sink: BinaryIO,
    layout: SheetLayout,
    sheets: Sequence[tuple[str, SheetPart]],
    *,
    title: str,
    stamp: datetime,
    creator: str,
) -> None:
    """A workbook of the given sheets (title, part), in that order; the first one is active.

    The styles are `layout`'s: a sheet written with another layout (other headers and widths, the same
    fills and date format) keeps its own columns. `stamp` is its created and modified time and every zip
    entry's (1980..2107)."""
    when = f"{stamp:%Y-%m-%dT%H:%M:%SZ}"
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>'
        for i in range(1, len(sheets) + 1)
    )
    z = StableZip(sink, stamp)
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
        f"<Application>{xml_escape(creator)}</Application></Properties>",
    )
    z.add(
        "docProps/core.xml",
        f"{_XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{xml_escape(creator)}</dc:creator><dc:title>{_attr(title)}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>',
    )
    names = "".join(
        f'<sheet name="{_attr(t)}" sheetId="{i}" r:id="rId{i}"/>' for i, (t, _) in enumerate(sheets, start=1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{xml_escape(_quoted(t))}!$A$1:${part.last_column or layout.last_column}${part.rows + 1}</definedName>"
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
    z.add("xl/styles.xml", layout.styles_xml)
    for i, (_, part) in enumerate(sheets, start=1):
        z.add_part(f"xl/worksheets/sheet{i}.xml", part)
    z.close()
