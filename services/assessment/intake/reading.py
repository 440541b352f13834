"""Reading an upload's bytes into rows: spool the body, detect the format, read CSV, XLSX or JSON.

No validation of the rows' contents here (that is `intake.checking`), no database. CSV and XLSX are
read by the kit's one upload reader (`kit.uploads`), with the intake's limits and its own codes.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kit import russian, uploads
from kit.errors import FieldError
from kit.uploads import Answer, Refusal, TableRows, UploadLimits, UploadRefused

FORMAT_CSV, FORMAT_XLSX, FORMAT_JSON = "csv", "xlsx", "json"
MEDIA_TYPES = {
    "text/csv": FORMAT_CSV,
    "application/csv": FORMAT_CSV,
    "text/plain": FORMAT_CSV,
    "application/vnd.ms-excel": FORMAT_CSV,  # what Windows browsers send for .csv
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FORMAT_XLSX,
    "application/json": FORMAT_JSON,
}


class UploadRejected(Exception):
    """The upload as a whole cannot be read (empty, wrong format, too large, header errors)."""

    def __init__(self, status: int, code: str, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors


# --- receiving the body ----------------------------------------------------------------------------


@dataclass
class SpooledBody:
    path: Path
    size: int
    sha256: str
    utf8: bool  # the whole body decodes as UTF-8

    def remove(self) -> None:
        _unlink(self.path)


SPOOL_PREFIX = "iom-upload-"
# A spooled upload (or its staged CSV) this old belongs to no running request (reading one stops after
# `upload_read_seconds`, 10 minutes by default): a process killed in the middle of an upload left it.
STALE_SPOOL_SECONDS = 3600.0


async def spool_body(chunks: AsyncIterator[bytes], limit: int, directory: str | None = None) -> SpooledBody:
    """Write the streamed body to a temporary file, hashing it and checking UTF-8 on the way."""
    fd, name = tempfile.mkstemp(prefix=SPOOL_PREFIX, dir=directory)
    path = Path(name)
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    size = 0
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as f:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise UploadRejected(
                        413, "payload-too-large", f"Файл больше допустимого размера ({russian.size(limit)})"
                    )
                h.update(chunk)
                if utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
                f.write(chunk)
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    except BaseException:
        _unlink(path)
        raise
    return SpooledBody(path, size, h.hexdigest(), utf8)


def sweep_spools(directory: str | None, older_than: float = STALE_SPOOL_SECONDS) -> int:
    """Delete the spooled uploads that processes killed mid-upload left in `directory` (the system's temporary
    directory when None); how many files went. Each upload deletes its own files however it ends, short of a
    kill: the service sweeps at start."""
    cutoff = time.time() - older_than
    removed = 0
    for path in Path(directory or tempfile.gettempdir()).glob(SPOOL_PREFIX + "*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def format_of(content_type: str | None) -> tuple[str, str | None]:
    """Return (format, declared charset) for a Content-Type, or raise 415."""
    media, _, params = (content_type or "").partition(";")
    fmt = MEDIA_TYPES.get(media.strip().lower())
    if fmt is None:
        raise UploadRejected(
            415,
            "unsupported-media-type",
            "Загрузите таблицу в формате CSV или XLSX либо пакет строк в формате JSON",
        )
    charset = None
    for p in params.split(";"):
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset" and v.strip():
            charset = v.strip().strip('"').lower()
    return fmt, charset


# --- reading rows ----------------------------------------------------------------------------------


def csv_encoding(spool: SpooledBody, declared: str | None) -> str:
    """UTF-8 (BOM or not) when the bytes are UTF-8, else Windows-1251 (what Russian Excel writes)."""
    return uploads.csv_encoding(spool.path, utf8=spool.utf8, declared=declared)


sniff_delimiter = uploads.sniff_delimiter
_cell_text = uploads.cell_text

# The intake's limits are the kit's (ArchiveLimits(max_uncompressed, max_ratio) from the settings); the
# body's size is checked while it is spooled. Rows are counted with blank ones, so the row cap is generous.
ArchiveLimits = UploadLimits
CSV_LIMITS = UploadLimits()

# What the intake has always answered when an upload cannot be read as a whole.
_HEADER = Answer(
    422, "unreadable-file", "Строку заголовков файла CSV не удаётся прочитать: сохраните файл в кодировке UTF-8"
)
_CSV = Answer(
    422,
    "unreadable-file",
    "Файл CSV не удаётся прочитать после строки данных {row}: проверьте кодировку, разделители и кавычки",
)
_ARCHIVE = "archive-too-large"
ANSWERS: dict[Refusal, Answer] = {
    Refusal.empty: Answer(422, "empty-file", "Файл пуст"),
    Refusal.empty_sheet: Answer(422, "empty-file", "Первый лист книги пуст"),
    Refusal.undecodable_header: _HEADER,
    Refusal.unreadable_header: _HEADER,
    Refusal.bad_encoding: _CSV,
    Refusal.bad_csv: _CSV,
    Refusal.not_xlsx: Answer(422, "unreadable-file", "Файл не является книгой XLSX"),
    Refusal.unreadable_xlsx: Answer(
        422, "unreadable-file", "Книгу XLSX не удаётся прочитать: сохраните её заново в Excel или LibreOffice"
    ),
    Refusal.too_many_parts: Answer(
        413, _ARCHIVE, "В книге XLSX слишком много частей: оставьте в ней только нужный лист"
    ),
    Refusal.archive_too_large: Answer(
        413, _ARCHIVE, "Книга XLSX в распакованном виде больше допустимого размера ({size})"
    ),
    Refusal.zip_bomb: Answer(413, _ARCHIVE, "Книга XLSX сжата подозрительно сильно; такой файл не принимается"),
    Refusal.part_zip_bomb: Answer(
        413, _ARCHIVE, "Часть книги XLSX сжата подозрительно сильно; такой файл не принимается"
    ),
    Refusal.shared_strings_too_large: Answer(413, _ARCHIVE, "В книге XLSX слишком много текста в ячейках"),
    Refusal.too_many_rows: Answer(413, "too-many-rows", "В файле больше строк, чем допустимо (не более {limit})"),
    Refusal.too_slow: Answer(
        413, "too-slow-to-read", "Файл не удалось прочитать за отведённое время ({limit:g} с): разделите его на части"
    ),
}


def _rejected(e: UploadRefused) -> UploadRejected:
    return UploadRejected(e.status, e.code, e.detail or "", e.errors)


def _cells(table: TableRows, as_text: bool) -> Generator[list[str]]:
    """The table's non-blank data rows (as text when `as_text`); closes the table when done."""
    try:
        for _, values in table.rows:
            yield [_cell_text(v) for v in values] if as_text else values
    except UploadRefused as e:
        raise _rejected(e) from e
    finally:
        table.close()


def csv_rows(spool: SpooledBody, declared_charset: str | None) -> tuple[list[str], Generator[list[str]]]:
    """The header and an iterator of the data rows of a CSV upload (kit.uploads reads it)."""
    try:
        table = uploads.read_csv_rows(
            spool.path, CSV_LIMITS, answers=ANSWERS, utf8=spool.utf8, charset=declared_charset
        )
    except UploadRefused as e:
        raise _rejected(e) from e
    return table.headers, _cells(table, as_text=False)


def check_xlsx_archive(path: Path, limits: ArchiveLimits) -> None:
    """Refuse zip bombs before parsing: entry count, ratio, total unpacked size, shared strings."""
    try:
        uploads.check_archive(path, limits, ANSWERS)
    except UploadRefused as e:
        raise _rejected(e) from e


def xlsx_rows(spool: SpooledBody, limits: ArchiveLimits) -> tuple[list[str], Iterator[list[str]]]:
    """The header and data rows (cut to the header's columns) of the first sheet (kit.uploads reads it)."""
    try:
        table = uploads.read_xlsx_rows(spool.path, limits, answers=ANSWERS)
    except UploadRefused as e:
        raise _rejected(e) from e
    return table.headers, _cells(table, as_text=True)


def json_rows(spool: SpooledBody) -> list[Any]:
    """The `rows` array of a JSON batch (`{"rows": [...]}`)."""
    try:
        doc = orjson.loads(spool.path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise UploadRejected(422, "unreadable-file", "Тело запроса не читается как JSON") from e
    if not isinstance(doc, dict) or set(doc) != {"rows"} or not isinstance(doc["rows"], list):
        raise UploadRejected(
            422,
            "invalid-batch",
            "Пакет JSON должен быть объектом с единственным полем «rows» — списком строк",
            [FieldError(loc=["body"], code="invalid-batch", message="Ожидается объект вида {«rows»: [...]}")],
        )
    if not doc["rows"]:
        raise UploadRejected(422, "no-rows", "В пакете нет ни одной строки")
    rows: list[Any] = doc["rows"]
    return rows
