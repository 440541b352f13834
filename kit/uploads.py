"""One reader of uploaded tables (CSV, XLSX): a header row, then numbered data rows, under one set of limits.

Domain-free. The source is the body's bytes or a spooled file; both are read as a stream, so a caller
that keeps no rows keeps memory flat. CSV is UTF-8 (with or without BOM) or Windows-1251, its
delimiter (`;`, `,` or tab) sniffed from the header line. XLSX is the first (or a named) sheet,
streamed by openpyxl in read-only mode after the zip's sizes are checked (`check_archive`).

Rows are numbered as the user sees them: 1 is the first line (CSV record, sheet row) below the
header. Blank rows are skipped but counted against `UploadLimits.max_rows`, and every cell read (a
blank row's too) against `max_cells`, so a sparse sheet cannot make the reader walk a million empty
rows. An XLSX's declared dimension is never trusted: data rows are cut to the header's columns.

Reading is blocking work: a service calls the reader in a worker thread (`anyio.to_thread.run_sync`),
never on its event loop, so other requests are served while a file is read. `UploadLimits.max_seconds`
is a deadline from the moment the reader opens the upload, checked at every row (the header pass's
too): a file that takes longer is refused (413) and the thread stops there instead of running on.
openpyxl parses the workbook's XML through defusedxml (installed; `openpyxl.DEFUSEDXML`), so a
document type with entities (billion laughs, external entities) is refused as an unreadable workbook.

A refusal raises `UploadRefused` (a `kit.errors` problem). Which status, code and detail it carries
is a table per caller (`Answers`); the checks are the same for every caller.

Why openpyxl and not python-calamine (benchmarks/uploads.py, 2-core machine shared with test runs,
two runs, 2026-12-07): 80,000 rows x 35 columns (7.2 MB): openpyxl 13.9 / 18.3 s, 33 MB peak;
calamine 1.07 / 1.83 s (0.08x / 0.10x), 212 MB peak; this reader (openpyxl plus its checks, second
run) 24.3 s, 70 MB peak (kit's imports included). 200 x 12: openpyxl 0.047 s, calamine 0.001 s, this
reader 0.022 s. Calamine is much faster but not as safe:
(1) it builds the sheet's whole used range as a dense matrix before the first row can be read, so a
1.6 KB workbook with one cell at XFD1048576 (or at XFD2 plus one at row 900,000) aborts the process
(SIGABRT on the allocation, not an exception we could answer with 413); openpyxl reads those in
0.06-0.16 s and our row and cell caps stop them; (2) its memory grows with the sheet (rows x the
farthest column) where this reader's stays flat (the intake reads 200 MiB uploads). Making calamine
safe needs a pre-scan of the sheet's XML that reproduces its cell placement; until that exists and is
measured, openpyxl it is. A declared A1:XFD1048576 alone is harmless to both.
"""

from __future__ import annotations

import codecs
import csv
import io
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from kit.errors import AppError, FieldError, PayloadTooLarge, ValidationFailed
from kit.russian import size

Source = bytes | Path
DELIMITERS = (";", ",", "\t")
# A part of a workbook this large and compressed beyond the ratio is refused even when the whole is not.
_RATIO_CHECKED_PART = 1 << 20


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may hold; every caller's reader checks all of them (the numbers are its own)."""

    max_uncompressed: int = 100 * 1024 * 1024  # an XLSX's parts, unpacked, together
    max_ratio: float = 100.0  # unpacked / packed, of the whole zip and of any part over 1 MiB
    max_rows: int = 1_000_000  # data rows, blank ones included
    max_columns: int = 1_024  # header cells
    max_cells: int = 50_000_000  # cells read, data and blank rows' alike
    max_bytes: int = 200 * 1024 * 1024  # the body itself
    max_entries: int = 10_000  # parts of an XLSX
    max_shared_strings: int = 64 * 1024 * 1024  # an XLSX's sharedStrings.xml, unpacked
    max_seconds: float | None = None  # reading, from opening the upload to its last row (None: no deadline)


class Refusal(StrEnum):
    """Why an upload as a whole cannot be read."""

    too_large = "too_large"
    empty = "empty"  # no header line
    empty_sheet = "empty_sheet"  # a workbook whose sheet holds no non-blank row
    bad_encoding = "bad_encoding"  # neither UTF-8 nor Windows-1251 ({row}: the last data row read)
    undecodable_header = "undecodable_header"  # the header line is neither UTF-8 nor Windows-1251
    unreadable_header = "unreadable_header"  # the header line cannot be parsed as CSV
    bad_csv = "bad_csv"  # a CSV record cannot be parsed ({row}: the last data row read)
    not_xlsx = "not_xlsx"  # not a zip at all
    unreadable_xlsx = "unreadable_xlsx"  # a zip that openpyxl cannot read as a workbook
    too_many_parts = "too_many_parts"
    archive_too_large = "archive_too_large"
    zip_bomb = "zip_bomb"
    part_zip_bomb = "part_zip_bomb"
    shared_strings_too_large = "shared_strings_too_large"
    too_many_rows = "too_many_rows"
    too_many_columns = "too_many_columns"
    too_many_cells = "too_many_cells"
    too_slow = "too_slow"  # not read within UploadLimits.max_seconds


@dataclass(frozen=True)
class Answer:
    """The problem a refusal is answered with; `detail` may name {limit}, {size} (the limit as a size in bytes,
    in Russian words) and {row}."""

    status: int
    code: str
    detail: str
    field_error: bool = False  # also list it as a FieldError at ["body"]


Answers = Mapping[Refusal, Answer]


def _body(status: int, code: str, detail: str) -> Answer:
    return Answer(status, code, detail, field_error=True)


# The kit's own answers (kit.tabular's codes); a caller overrides the ones it has always answered otherwise.
ANSWERS: dict[Refusal, Answer] = {
    Refusal.too_large: Answer(413, "payload-too-large", "Файл больше допустимого размера ({size})"),
    Refusal.empty: _body(422, "empty", "Файл пуст"),
    Refusal.empty_sheet: _body(422, "empty", "Лист таблицы пуст"),
    Refusal.bad_encoding: _body(422, "bad-encoding", "Файл CSV должен быть в кодировке UTF-8 или Windows-1251"),
    Refusal.undecodable_header: _body(422, "bad-encoding", "Файл CSV должен быть в кодировке UTF-8 или Windows-1251"),
    Refusal.unreadable_header: _body(422, "bad-csv", "Файл CSV не удаётся прочитать: проверьте разделители и кавычки"),
    Refusal.bad_csv: _body(422, "bad-csv", "Файл CSV не удаётся прочитать: проверьте разделители и кавычки"),
    Refusal.not_xlsx: _body(422, "bad-xlsx", "Файл не является книгой XLSX"),
    Refusal.unreadable_xlsx: _body(
        422, "bad-xlsx", "Книгу XLSX не удаётся прочитать: сохраните её заново в Excel или LibreOffice"
    ),
    Refusal.too_many_parts: Answer(
        413, "xlsx-too-large", "В книге XLSX слишком много частей: оставьте в ней только нужный лист"
    ),
    Refusal.archive_too_large: Answer(
        413, "xlsx-too-large", "Книга XLSX в распакованном виде больше допустимого размера ({size})"
    ),
    Refusal.zip_bomb: Answer(413, "xlsx-too-large", "Книга XLSX сжата подозрительно сильно; такой файл не принимается"),
    Refusal.part_zip_bomb: Answer(
        413, "xlsx-too-large", "Часть книги XLSX сжата подозрительно сильно; такой файл не принимается"
    ),
    Refusal.shared_strings_too_large: Answer(413, "xlsx-too-large", "В книге XLSX слишком много текста в ячейках"),
    Refusal.too_many_rows: _body(422, "too-many-rows", "В таблице больше строк, чем допустимо (не более {limit})"),
    Refusal.too_many_columns: _body(
        422, "too-many-columns", "В таблице больше столбцов, чем допустимо (не более {limit})"
    ),
    Refusal.too_many_cells: Answer(413, "too-many-cells", "В таблице больше ячеек, чем допустимо (не более {limit})"),
    Refusal.too_slow: Answer(
        413, "too-slow-to-read", "Таблицу не удалось прочитать за отведённое время ({limit:g} с): разделите её на части"
    ),
}


class UploadRefused(AppError):
    """An upload that cannot be read as a whole; `refusal` says why, the caller's `Answers` say how."""

    refusal: Refusal

    def __init__(self, refusal: Refusal, answer: Answer, detail: str) -> None:
        errors = [FieldError(loc=["body"], code=answer.code, message=detail)] if answer.field_error else None
        super().__init__(detail, code=answer.code, errors=errors)
        self.refusal = refusal


class UploadInvalid(UploadRefused, ValidationFailed):
    """A refusal answered 422."""


class UploadTooLarge(UploadRefused, PayloadTooLarge):
    """A refusal answered 413."""


def refused(refusal: Refusal, answers: Answers, *, limit: float | None = None, row: int = 0) -> UploadRefused:
    """The problem that answers `refusal` (413 or 422, as the caller's table says)."""
    answer = answers.get(refusal) or ANSWERS[refusal]
    cls = UploadTooLarge if answer.status == 413 else UploadInvalid
    return cls(refusal, answer, answer.detail.format(limit=limit, row=row, size=size(int(limit or 0))))


# --- the pieces ------------------------------------------------------------------------------------


def _open(source: Source) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def is_utf8(source: Source) -> bool:
    """Whether the whole source decodes as UTF-8 (read in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open(source) as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def csv_encoding(source: Source, *, utf8: bool | None = None, declared: str | None = None) -> str:
    """UTF-8 (BOM or not) when the bytes are UTF-8, else Windows-1251 (what Russian Excel writes)."""
    if declared in ("windows-1251", "cp1251"):
        return "cp1251"
    with _open(source) as f:
        head = f.read(3)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    return "utf-8" if (is_utf8(source) if utf8 is None else utf8) else "cp1251"


def sniff_delimiter(first_line: str) -> str:
    """`;` or `,` (or tab): the one appearing most often outside quotes in the header line."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ","


def check_archive(source: Source, limits: UploadLimits, answers: Answers = ANSWERS) -> None:
    """Refuse zip bombs before parsing: entry count, ratio, total unpacked size, big parts' ratio, shared strings."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise refused(Refusal.not_xlsx, answers) from e
    if len(infos) > limits.max_entries:
        raise refused(Refusal.too_many_parts, answers, limit=limits.max_entries)
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total / packed > limits.max_ratio:
        raise refused(Refusal.zip_bomb, answers, limit=limits.max_ratio)
    if total > limits.max_uncompressed:
        raise refused(Refusal.archive_too_large, answers, limit=limits.max_uncompressed)
    for i in infos:
        if i.file_size > _RATIO_CHECKED_PART and i.file_size / max(i.compress_size, 1) > limits.max_ratio:
            raise refused(Refusal.part_zip_bomb, answers, limit=limits.max_ratio)
        if i.filename.endswith("sharedStrings.xml") and i.file_size > limits.max_shared_strings:
            raise refused(Refusal.shared_strings_too_large, answers, limit=limits.max_shared_strings)


def cell_text(value: Any) -> str:
    """A cell as the text a CSV would hold: empty -> "", whole numbers without ".0", booleans as 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def blank(values: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every cell is empty or only whitespace."""
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def deadline_of(limits: UploadLimits) -> float | None:
    """The monotonic time by which an upload opened now must be read (None: no deadline)."""
    return None if limits.max_seconds is None else time.monotonic() + limits.max_seconds


YIELD_EVERY_ROWS = 64


@dataclass
class _Budget:
    limits: UploadLimits
    answers: Answers
    deadline: float | None = None
    cells: int = 0
    taken: int = 0

    def take(self, number: int, width: int) -> None:
        if number > self.limits.max_rows:
            raise refused(Refusal.too_many_rows, self.answers, limit=self.limits.max_rows)
        self.cells += width
        if self.cells > self.limits.max_cells:
            raise refused(Refusal.too_many_cells, self.answers, limit=self.limits.max_cells)
        self.taken += 1
        if self.taken % YIELD_EVERY_ROWS == 0:
            # Read in a worker thread, the parser (lxml under openpyxl) may keep the GIL for long stretches;
            # handing it over now and then lets the service's event loop answer other requests meanwhile.
            time.sleep(0)
        self.check_time()

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise refused(Refusal.too_slow, self.answers, limit=self.limits.max_seconds)


# --- the reader ------------------------------------------------------------------------------------


@dataclass
class TableRows:
    """An open upload: its header and an iterator of (row number, cells) of the non-blank data rows.

    Use as a context manager (or call `close`): the file or workbook stays open while rows are read.
    """

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    _close: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        close = getattr(self.rows, "close", None)
        if close is not None:
            close()
        while self._close:
            self._close.pop().close()

    def __enter__(self) -> TableRows:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def read_rows(
    source: Source,
    fmt: str,
    limits: UploadLimits,
    *,
    answers: Answers = ANSWERS,
    utf8: bool | None = None,
    charset: str | None = None,
    sheet: str | None = None,
) -> TableRows:
    """Open an upload ("csv" or "xlsx") and read its header; rows are read as they are iterated."""
    if _size(source) > limits.max_bytes:
        raise refused(Refusal.too_large, answers, limit=limits.max_bytes)
    if fmt == "xlsx":
        return read_xlsx_rows(source, limits, answers=answers, sheet=sheet)
    return read_csv_rows(source, limits, answers=answers, utf8=utf8, charset=charset)


def read_csv_rows(
    source: Source,
    limits: UploadLimits,
    *,
    answers: Answers = ANSWERS,
    utf8: bool | None = None,
    charset: str | None = None,
) -> TableRows:
    """A CSV upload's header and data rows (cells as the text the CSV holds)."""
    deadline = deadline_of(limits)
    encoding = csv_encoding(source, utf8=utf8, declared=charset)
    binary = _open(source)
    try:
        first = binary.readline()
        try:
            first_line = first.decode(encoding)
        except UnicodeDecodeError as e:
            raise refused(Refusal.undecodable_header, answers) from e
        if not first_line.strip():
            raise refused(Refusal.empty, answers)
        binary.seek(0)
        text = io.TextIOWrapper(binary, encoding=encoding, newline="", errors="strict")
        reader = csv.reader(text, delimiter=sniff_delimiter(first_line), strict=False)
        try:
            headers = next(reader)
        except UnicodeDecodeError as e:  # the first chunk read holds more than the header line
            raise refused(Refusal.undecodable_header, answers) from e
        except (StopIteration, csv.Error) as e:
            raise refused(Refusal.unreadable_header, answers) from e
        if len(headers) > limits.max_columns:
            raise refused(Refusal.too_many_columns, answers, limit=limits.max_columns)
    except BaseException:
        binary.close()
        raise
    budget = _Budget(limits, answers, deadline)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, values in enumerate(reader, start=1):
                budget.take(number, len(values))
                if values and not blank(values):
                    yield number, values
        except UnicodeDecodeError as e:
            raise refused(Refusal.bad_encoding, answers, row=reader.line_num - 1) from e
        except csv.Error as e:
            raise refused(Refusal.bad_csv, answers, row=reader.line_num - 1) from e
        finally:
            text.close()

    return TableRows(headers, rows(), [text])


def read_xlsx_rows(
    source: Source, limits: UploadLimits, *, answers: Answers = ANSWERS, sheet: str | None = None
) -> TableRows:
    """The first (or the named) sheet's header (its first non-blank row) and data rows, cut to the header."""
    deadline = deadline_of(limits)
    check_archive(source, limits, answers)
    import openpyxl

    # A file object, not a path: openpyxl judges paths by their extension and a spooled body has none.
    fh = _open(source)
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        fh.close()
        raise refused(Refusal.unreadable_xlsx, answers) from e
    table = TableRows([], iter(()), [fh, wb])
    budget = _Budget(limits, answers, deadline)
    try:
        budget.check_time()  # loading parsed the workbook's parts and shared strings
        ws = wb[sheet] if sheet is not None and sheet in wb.sheetnames else wb.worksheets[0]
        ws.reset_dimensions()  # never trust the declared dimension: rows end at their last cell
        header_row = 0
        leading = ws.iter_rows(values_only=True)
        for header_row, values in enumerate(leading, start=1):
            if not blank(values):
                budget.take(header_row - 1, min(len(values), limits.max_columns + 1))
                headers = [cell_text(v) for v in values]
                break
            budget.take(header_row - 1, len(values))  # a blank row is as wide as its farthest cell, all walked
        else:
            raise refused(Refusal.empty_sheet, answers)
        leading.close()  # the data rows are read by a second pass, cut to the header's columns
    except UploadRefused:
        table.close()
        raise
    except Exception as e:
        table.close()
        raise refused(Refusal.unreadable_xlsx, answers) from e
    while headers and not headers[-1].strip():
        headers.pop()
    if len(headers) > limits.max_columns:
        table.close()
        raise refused(Refusal.too_many_columns, answers, limit=limits.max_columns)
    width = len(headers)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        data = ws.iter_rows(min_row=header_row + 1, max_col=width, values_only=True)
        for number, values in enumerate(data, start=1):
            budget.take(number + header_row - 1, width)  # blank rows above the header count too
            if not blank(values):
                yield number, list(values)

    table.headers, table.rows = headers, rows()
    return table
