"""What the exports router answers with: recorded files, their page, a row of the JSON export, the formats."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


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
