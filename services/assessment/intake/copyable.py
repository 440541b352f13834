"""The COPY fast path: whether PostgreSQL can read an item-score CSV itself, and how.

A plain item-score CSV (`copyable_csv`) is first given to PostgreSQL as it is: COPY parses it and
SQL applies the same checks and the tabulated rules (`repositories.stage_sql.CsvStageSql`). Only
when a row does not pass there is the file read again by `checking.check_upload`, row by row, which
also reports its errors.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

from services.assessment.intake.header import Columns, map_header
from services.assessment.intake.reading import SpooledBody, UploadRejected, csv_encoding, csv_rows, sniff_delimiter
from services.assessment.scoring import Instrument

PG_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1251": "WIN1251"}
# Every character Python's str.strip() removes: a cell edged by one of these is left to the Python path.
PY_WHITESPACE = "".join(chr(c) for c in range(0x10000) if chr(c).isspace())  # none lies beyond the BMP


@dataclass(frozen=True)
class CsvLayout:
    """A CSV upload that COPY reads into the same cells as `csv_rows`: where each column is, and how to read it."""

    columns: Columns
    width: int  # cells in the header (and in every data row, or COPY refuses the file)
    delimiter: str
    encoding: str  # PostgreSQL's name of the file's encoding


def copyable_csv(spool: SpooledBody, declared_charset: str | None, instrument: Instrument) -> CsvLayout | None:
    """The layout of an item-score CSV that PostgreSQL parses exactly as `csv_rows` does, else None.

    Only plain files qualify: no quote characters (so no quoted delimiters or line breaks, where the two
    parsers' leniency differs), no NUL, no `\\.` line (COPY's end-of-data marker), no reported level.
    Anything else (and every broken file) goes through `check_upload`, which also reports its errors.
    """
    if spool.size == 0:
        return None
    try:
        header, data = csv_rows(spool, declared_charset)
        try:
            has_rows = next(data, None) is not None
        finally:
            data.close()
        columns = map_header(header, instrument)
    except UploadRejected:
        return None
    if not has_rows or columns.items is None or "level" in columns.fields:
        return None
    encoding = csv_encoding(spool, declared_charset)
    refused = [b'"', b"\\.", b"\x00"] + ([b"\x98"] if encoding == "cp1251" else [])  # 0x98: not cp1251
    with open(spool.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as body:
        if any(body.find(b) >= 0 for b in refused):
            return None
        first = body[: body.find(b"\n")] if body.find(b"\n") >= 0 else body[:]
    delimiter = sniff_delimiter(first.decode(encoding, errors="replace"))
    return CsvLayout(columns, len(header), delimiter, PG_ENCODINGS[encoding])
