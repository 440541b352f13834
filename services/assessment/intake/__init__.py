"""Reading uploaded results: spool the body, detect the format, map the header, check and score every row.

- `reading`: bytes into rows (spooling, media types, CSV / XLSX / JSON);
- `header`: header cells to fields, items and competencies;
- `checking`: each row checked and scored into a CSV stage file (`check_upload` runs the whole file);
- `copyable`: whether PostgreSQL can COPY and check a plain item-score CSV itself (the fast path).
No database here; the upload's orchestration is `services.assessment.service.uploads`.
"""

from services.assessment.intake.checking import (
    DEFAULT_POSITION,
    STAGE_COLUMNS,
    Organisation,
    Outcome,
    RowChecker,
    _slow_number,
    check_upload,
    fmt_points,
)
from services.assessment.intake.copyable import PG_ENCODINGS, PY_WHITESPACE, CsvLayout, copyable_csv
from services.assessment.intake.header import Columns, map_header
from services.assessment.intake.reading import (
    FORMAT_CSV,
    FORMAT_JSON,
    FORMAT_XLSX,
    ArchiveLimits,
    SpooledBody,
    UploadRejected,
    check_xlsx_archive,
    csv_encoding,
    csv_rows,
    format_of,
    json_rows,
    sniff_delimiter,
    spool_body,
    sweep_spools,
    xlsx_rows,
)

__all__ = [
    "DEFAULT_POSITION",
    "FORMAT_CSV",
    "FORMAT_JSON",
    "FORMAT_XLSX",
    "PG_ENCODINGS",
    "PY_WHITESPACE",
    "STAGE_COLUMNS",
    "ArchiveLimits",
    "Columns",
    "CsvLayout",
    "Organisation",
    "Outcome",
    "RowChecker",
    "SpooledBody",
    "UploadRejected",
    "_slow_number",
    "check_upload",
    "check_xlsx_archive",
    "copyable_csv",
    "csv_encoding",
    "csv_rows",
    "fmt_points",
    "format_of",
    "json_rows",
    "map_header",
    "sniff_delimiter",
    "spool_body",
    "sweep_spools",
    "xlsx_rows",
]
