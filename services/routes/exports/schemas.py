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
    municipality_name: str = Field(description="From the assessment directory («нет в справочнике» if absent)")
    organisation: str
    organisation_name: str = Field(description="The school's name from the assessment directory")
    subject: str | None
    subject_label: str
    group: int = Field(description="Support group 1 (low) .. 4 (high); 1 comes first")
    level: str | None
    group_label: str = Field(examples=["низкий уровень (группа 1)"])
    status: str
    status_label: str
    period_start: str
    period_end: str
    deficits: list[str] = Field(description="Competency codes of the deficits")
    deficit_names: list[str] = Field(description="Their names, in the same order")
    tasks: int
    mentor_id: str | None
    mentor: str | None
    mentor_contact: str | None = Field(description="«не указан»: no service holds a mentor's contact yet")
    next_control_on: str | None = Field(
        description="The first control point of a task not done on or after the month's first day (else the "
        "earliest overdue one), ISO date"
    )
    next_control_what: str | None = Field(description="What is presented at it")
    next_control_checked_by: str | None = Field(description="Who checks it")
    self_check_auto: int = Field(description="Machine-scored self-check criteria")
    self_check_auto_max: int = Field(description="Their maximum (2 per criterion the machine scored)")
