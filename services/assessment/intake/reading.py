"""Reading an upload's bytes into rows: spool the body, detect the format, read CSV, XLSX or JSON.

No validation of the rows' contents here (that is `intake.checking`), no database.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import tempfile
import zipfile
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kit.errors import FieldError

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


async def spool_body(chunks: AsyncIterator[bytes], limit: int, directory: str | None = None) -> SpooledBody:
    """Write the streamed body to a temporary file, hashing it and checking UTF-8 on the way."""
    fd, name = tempfile.mkstemp(prefix="iom-upload-", dir=directory)
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
                    raise UploadRejected(413, "payload-too-large", f"the upload exceeds {limit} bytes")
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
            "send text/csv, application/json or an XLSX workbook "
            "(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
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
    if declared in ("windows-1251", "cp1251"):
        return "cp1251"
    with open(spool.path, "rb") as f:
        head = f.read(3)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    return "utf-8" if spool.utf8 else "cp1251"


def sniff_delimiter(first_line: str) -> str:
    """`;` or `,` (or tab): the one appearing most often outside quotes in the header line."""
    counts = {";": 0, ",": 0, "\t": 0}
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ","


def csv_rows(spool: SpooledBody, declared_charset: str | None) -> tuple[list[str], Generator[list[str]]]:
    """The header and an iterator of the data rows of a CSV upload."""
    encoding = csv_encoding(spool, declared_charset)
    f = open(spool.path, encoding=encoding, newline="", errors="strict")
    first = f.readline()
    if not first.strip():
        f.close()
        raise UploadRejected(422, "empty-file", "the file is empty")
    f.seek(0)
    if encoding == "utf-8-sig":
        f.close()
        f = open(spool.path, encoding=encoding, newline="")
    reader = csv.reader(f, delimiter=sniff_delimiter(first), strict=False)
    try:
        header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError) as e:
        f.close()
        raise UploadRejected(422, "unreadable-file", "the CSV header cannot be read") from e

    def rows() -> Generator[list[str]]:
        try:
            for row in reader:
                if row and any(c.strip() for c in row):
                    yield row
        except (csv.Error, UnicodeDecodeError) as e:
            raise UploadRejected(
                422, "unreadable-file", f"the CSV cannot be read after data row {reader.line_num - 1}"
            ) from e
        finally:
            f.close()

    return header, rows()


@dataclass(frozen=True)
class ArchiveLimits:
    max_uncompressed: int
    max_ratio: float
    max_entries: int = 10_000
    max_shared_strings: int = 64 * 1024 * 1024


def check_xlsx_archive(path: Path, limits: ArchiveLimits) -> None:
    """Refuse zip bombs before parsing: total uncompressed size, ratio, entry count, shared strings."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise UploadRejected(422, "unreadable-file", "the body is not an XLSX workbook") from e
    if len(infos) > limits.max_entries:
        raise UploadRejected(413, "archive-too-large", "the workbook has too many parts")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > limits.max_uncompressed:
        raise UploadRejected(
            413, "archive-too-large", f"the workbook unpacks to more than {limits.max_uncompressed} bytes"
        )
    if total / packed > limits.max_ratio:
        raise UploadRejected(413, "archive-too-large", "the workbook's compression ratio is suspicious (zip bomb)")
    for i in infos:
        if i.file_size > 1_048_576 and i.file_size / max(i.compress_size, 1) > limits.max_ratio:
            raise UploadRejected(413, "archive-too-large", "a part of the workbook is suspiciously compressed")
        if i.filename.endswith("sharedStrings.xml") and i.file_size > limits.max_shared_strings:
            raise UploadRejected(413, "archive-too-large", "the workbook's shared strings are too large")


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def xlsx_rows(spool: SpooledBody, limits: ArchiveLimits) -> tuple[list[str], Iterator[list[str]]]:
    """The header and data rows of the first sheet, read with openpyxl in read-only mode."""
    check_xlsx_archive(spool.path, limits)
    import openpyxl

    # A file object, not the path: openpyxl judges paths by their extension and ours has none.
    fh = open(spool.path, "rb")
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        fh.close()
        raise UploadRejected(422, "unreadable-file", "the XLSX workbook cannot be read") from e
    close = wb.close

    def close_all() -> None:
        close()
        fh.close()

    wb.close = close_all  # type: ignore[method-assign]
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header: list[str] | None = None
        for values in it:
            cells = [_cell_text(v) for v in values]
            if any(c.strip() for c in cells):
                header = cells
                break
    except Exception as e:
        wb.close()
        raise UploadRejected(422, "unreadable-file", "the XLSX workbook cannot be read") from e
    if header is None:
        wb.close()
        raise UploadRejected(422, "empty-file", "the workbook's first sheet is empty")

    def rows() -> Iterator[list[str]]:
        try:
            for values in it:
                cells = [_cell_text(v) for v in values]
                if any(c.strip() for c in cells):
                    yield cells
        finally:
            wb.close()

    return header, rows()


def json_rows(spool: SpooledBody) -> list[Any]:
    """The `rows` array of a JSON batch (`{"rows": [...]}`)."""
    try:
        doc = orjson.loads(spool.path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise UploadRejected(422, "unreadable-file", "the body is not valid JSON") from e
    if not isinstance(doc, dict) or set(doc) != {"rows"} or not isinstance(doc["rows"], list):
        raise UploadRejected(
            422,
            "invalid-batch",
            'a JSON batch is an object with one key, "rows", holding an array',
            [FieldError(loc=["body"], code="invalid-batch", message='expected {"rows": [...]}')],
        )
    if not doc["rows"]:
        raise UploadRejected(422, "no-rows", "the batch has no rows")
    rows: list[Any] = doc["rows"]
    return rows
