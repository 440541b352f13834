"""Request and answer models of the active's expert work, training and the picture a region reports (issue 15,
points 5-7)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.resources.active_vocab import ActiveStatus, EnrolmentStatus, ExpertDuty
from services.resources.vocab import Subject

SchoolCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

ASSIGNMENT_EXAMPLE: dict[str, Any] = {
    "member_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
    "duty": "extended_answers",
    "subject": "mathematics",
    "starts_on": "2026-05-20",
    "ends_on": "2026-06-10",
    "load": 120,
    "schools": ["oo-b1", "oo-b2"],
    "note": "Проверка развёрнутых ответов регионального исследования",
}


class AssignmentCreate(BaseModel):
    """A member of the active takes an expert duty in a subject for a period, with a load (works or practices)
    and the schools whose works are checked (never the member's own)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ASSIGNMENT_EXAMPLE]})
    member_id: uuid.UUID
    duty: ExpertDuty
    subject: Subject
    starts_on: dt.date
    ends_on: dt.date
    load: int = Field(ge=1, le=100000, description="Works (or practices) to check in the period")
    schools: list[SchoolCode] = Field(default_factory=list, max_length=500)
    note: Note | None = None


class AssignmentRead(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    organisation: str | None
    duty: ExpertDuty
    duty_label: str = Field(description="The duty in Russian")
    subject: str
    subject_label: str
    starts_on: dt.date
    ends_on: dt.date
    load: int
    unit: str = Field(description="What the load counts, in Russian")
    schools: list[str]
    note: str | None
    created_at: dt.datetime


class AssignmentPage(BaseModel):
    items: list[AssignmentRead]
    next_cursor: str | None = None


class DutyCount(BaseModel):
    member_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    subject: str
    subject_label: str
    duty: ExpertDuty
    duty_label: str
    assignments: int
    load: int


class DutyTotal(BaseModel):
    key: str = Field(description="The subject or duty counted")
    label: str = Field(description="In Russian")
    assignments: int
    load: int


class MemberLoad(BaseModel):
    member_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    assignments: int
    load: int


class DutyCounts(BaseModel):
    year: int | None
    items: list[DutyCount] = Field(description="Per member, subject and duty")
    by_member: list[MemberLoad]
    by_subject: list[DutyTotal]
    by_duty: list[DutyTotal]


class EnrolmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
                    "resource_id": "0b7f3c1e-5a55-4d1e-a0d4-6c9c2a7f1e10",
                    "enrolled_on": "2026-09-15",
                }
            ]
        },
    )
    member_id: uuid.UUID
    resource_id: uuid.UUID = Field(description="A course of the resource map in the same region")
    enrolled_on: dt.date | None = Field(default=None, description="Today when absent")


class CompletionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"completed_on": "2026-12-01"}]})
    completed_on: dt.date | None = Field(default=None, description="Today when absent")


class EnrolmentRead(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    organisation: str | None
    member_status: ActiveStatus
    member_status_label: str
    resource_id: uuid.UUID
    resource_title: str
    status: EnrolmentStatus
    status_label: str
    enrolled_on: dt.date
    completed_on: dt.date | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class EnrolmentPage(BaseModel):
    items: list[EnrolmentRead]
    next_cursor: str | None = None


# --- the picture a region reports ---------------------------------------------------------------------


class SubjectCount(BaseModel):
    subject: str
    label: str
    count: int


class MunicipalityCount(BaseModel):
    municipality: str
    name: str
    count: int


class MunicipalityRef(BaseModel):
    municipality: str
    name: str


class SubjectGrowth(BaseModel):
    subject: str
    label: str
    counts: dict[str, int] = Field(description="Members per year ('2025': n)")


class NeedRow(BaseModel):
    subject: str
    label: str
    municipality: str
    name: str
    teachers: int = Field(description="Teachers in support groups 1-2 of the latest results")
    members: int
    teachers_per_member: float | None = Field(description="None when there is no member")


class NeedMunicipality(BaseModel):
    municipality: str
    name: str
    teachers: int
    members: int
    teachers_per_member: float | None


class Part(BaseModel):
    """A part of the summary read from another service: unavailable when it could not be read."""

    available: bool
    note: str | None = Field(default=None, description="Why the part is empty or unavailable, in Russian")


class NeedPart(Part):
    items: list[NeedRow] = Field(default_factory=list)
    highest: list[NeedMunicipality] = Field(
        default_factory=list, description="Where the need is highest relative to the active"
    )


class MonitoringRow(BaseModel):
    municipality: str
    name: str
    total: float | None = Field(description="Points of 100; None when the municipality has no score")
    total_percent: float | None
    band: str | None
    band_label: str | None


class MonitoringCampaign(BaseModel):
    id: uuid.UUID
    title: str
    held_on: str


class MonitoringPart(Part):
    campaign: MonitoringCampaign | None = None
    items: list[MonitoringRow] = Field(default_factory=list, description="The municipalities without members")


class TrainingRow(BaseModel):
    status: ActiveStatus
    label: str
    enrolled: int
    completed: int


class TrainingPart(BaseModel):
    enrolled: int = Field(description="Enrolments begun in the year")
    completed: int = Field(description="Enrolments completed in the year")
    by_status: list[TrainingRow] = Field(description="By the member's status (members, candidates)")


class DutyYear(BaseModel):
    duty: ExpertDuty
    label: str
    assignments: int
    load: int
    members: int


class ActiveSummary(BaseModel):
    region: str
    year: int
    members: int = Field(description="Members of the active in the year (status member at any time in it)")
    by_subject: list[SubjectCount]
    by_municipality: list[MunicipalityCount]
    without_active: list[MunicipalityRef] | None = Field(description="None when the directory could not be read")
    directory: Part
    years: list[int] = Field(description="Every year on record")
    growth: list[SubjectGrowth]
    need: NeedPart
    monitoring: MonitoringPart
    training: TrainingPart
    expert_work: list[DutyYear]
