"""The CSV and JSON writers of the export: rows in, bytes out to a sink as they come."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from typing import Protocol

import orjson

from kit.tabular import XLSX_MEDIA_TYPE
from kit.xlsx import clean_text
from services.routes.exports.rows import DATE_COLUMN, HEADERS, ExportRow

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MEDIA_TYPE, "json": "application/json"}


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


class ByteBuffer:
    """A byte sink emptied after every chunk (for a streamed answer)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out
