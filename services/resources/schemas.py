"""API models of the resources service: XCreate / XUpdate / XRead / XPage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from kit.weburl import WebUrl
from services.resources.vocab import (
    EventFormat,
    LearningType,
    MembershipAction,
    MentorRole,
    Mode,
    ResourceKind,
    Subject,
)

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
Competency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Group = Annotated[int, Field(ge=1, le=4, description="Level / support group: 1 low, 2 basic, 3 elevated, 4 high")]


def _unique(values: list[str] | list[int] | None) -> list[str] | list[int] | None:
    if values is None:
        return None
    return list(dict.fromkeys(values))  # type: ignore[return-value]


RESOURCE_EXAMPLE: dict[str, Any] = {
    "kind": "course",
    "title": "Формирующее оценивание на уроках математики",
    "description": "Курс ПК: критериальное оценивание, обратная связь, листы самооценки.",
    "provider": "ЦНППМ",
    "hours": 72,
    "federal_registry": True,
    "competencies": ["M3", "MATH.1"],
    "subjects": ["mathematics"],
    "levels": [1, 2],
    "learning_type": "formal",
    "mode": "online",
    "municipalities": [],
    "starts_on": "2026-09-01",
    "ends_on": "2026-12-20",
    "capacity": 30,
}


class ResourceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_format: EventFormat | None = Field(default=None, description="Only for kind=event")
    description: LongText = ""
    provider: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    hours: int | None = Field(default=None, ge=1, le=2000, description="Academic hours (courses)")
    federal_registry: bool = Field(default=False, description="In the federal registry of programmes (courses)")
    competencies: list[Competency] = Field(default_factory=list, max_length=50)
    subjects: list[Subject] = Field(default_factory=list, max_length=15, description="Empty: cross-subject")
    levels: list[Group] = Field(default_factory=list, max_length=4, description="Groups it suits; empty: all")
    municipalities: list[Code] = Field(
        default_factory=list, max_length=100, description="Where it is held; empty: region-wide"
    )
    starts_on: date | None = None
    ends_on: date | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000, description="Seats; null: no limit")
    url: WebUrl | None = None

    _dedupe = field_validator("competencies", "subjects", "levels", "municipalities")(_unique)


class ResourceCreate(ResourceFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RESOURCE_EXAMPLE]})
    kind: ResourceKind
    title: Title
    learning_type: LearningType
    mode: Mode
    external_id: ExternalId | None = Field(default=None, description="The id in the region's own catalogue")
    owner_teacher_id: uuid.UUID | None = Field(
        default=None, description="For peer resources created by regional staff: the teacher offering it"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ResourceCreate:
        check_resource(self.kind, self.event_format, self.starts_on, self.ends_on)
        return self


class ResourceUpdate(BaseModel):
    """Partial update; fields left out stay as they are (kind and owner cannot change)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"capacity": 40, "hours": 36}]})
    title: Title | None = None
    description: LongText | None = None
    event_format: EventFormat | None = None
    provider: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    hours: int | None = Field(default=None, ge=1, le=2000)
    federal_registry: bool | None = None
    competencies: list[Competency] | None = Field(default=None, max_length=50)
    subjects: list[Subject] | None = Field(default=None, max_length=15)
    levels: list[Group] | None = Field(default=None, max_length=4)
    learning_type: LearningType | None = None
    mode: Mode | None = None
    municipalities: list[Code] | None = Field(default=None, max_length=100)
    starts_on: date | None = None
    ends_on: date | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    url: WebUrl | None = None

    _dedupe = field_validator("competencies", "subjects", "levels", "municipalities")(_unique)


def check_resource(kind: str, event_format: str | None, starts_on: date | None, ends_on: date | None) -> None:
    if event_format is not None and kind != ResourceKind.event:
        raise ValueError("Формат мероприятия указывается только для мероприятий")
    if starts_on and ends_on and ends_on < starts_on:
        raise ValueError("Дата окончания раньше даты начала")


class ResourceRead(BaseModel):
    id: uuid.UUID
    region: str
    external_id: str | None
    kind: str
    event_format: str | None
    title: str
    description: str
    provider: str | None
    hours: int | None
    federal_registry: bool
    competencies: list[str]
    subjects: list[str]
    levels: list[int]
    learning_type: str
    mode: str
    municipalities: list[str]
    starts_on: date | None
    ends_on: date | None
    capacity: int | None
    reserved: int
    free: int | None = Field(description="Free seats; null: no limit")
    url: str | None
    owner_scope: str = Field(description="region | municipality | teacher")
    owner_municipality: str | None
    owner_teacher_id: uuid.UUID | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ResourcePage(BaseModel):
    items: list[ResourceRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class ImportRowError(BaseModel):
    row: int | None
    column: str | None
    code: str
    message: str


class ImportResult(BaseModel):
    mode: str = Field(description="all (all-or-nothing) or partial")
    format: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[ImportRowError] = Field(default_factory=list, description="Rejected rows (partial mode)")


# ---------------------------------------------------------------- mentors

MENTOR_EXAMPLE: dict[str, Any] = {
    "teacher_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
    "municipality": "mo-01",
    "role": "methodist",
    "subjects": ["mathematics"],
    "competencies": ["M2", "MATH.1"],
    "level": 4,
    "mode": "mixed",
    "capacity": 5,
    "joined_year": 2025,
    "joined_assessment": "fioko-okup-2025",
}


class MentorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [MENTOR_EXAMPLE]})
    teacher_id: uuid.UUID = Field(description="The assessment service's teacher id")
    municipality: Code
    role: MentorRole = MentorRole.mentor
    subjects: list[Subject] = Field(min_length=1, max_length=15)
    competencies: list[Competency] = Field(default_factory=list, max_length=50)
    level: Group = Field(description="Assessed level of the mentor (1..4)")
    mode: Mode
    capacity: int = Field(ge=0, le=100, description="How many mentees at once")
    joined_year: int | None = Field(default=None, ge=2000, le=2100, description="Year of entering the active")
    joined_assessment: ExternalId | None = Field(default=None, description="Assessment (campaign) it was based on")

    _dedupe = field_validator("competencies", "subjects")(_unique)


class MentorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"capacity": 3}]})
    municipality: Code | None = None
    role: MentorRole | None = None
    subjects: list[Subject] | None = Field(default=None, min_length=1, max_length=15)
    competencies: list[Competency] | None = Field(default=None, max_length=50)
    level: Group | None = None
    mode: Mode | None = None
    capacity: int | None = Field(default=None, ge=0, le=100)

    _dedupe = field_validator("competencies", "subjects")(_unique)


class MentorRead(BaseModel):
    id: uuid.UUID
    region: str
    teacher_id: uuid.UUID
    municipality: str
    role: str
    subjects: list[str]
    competencies: list[str]
    level: int
    mode: str
    capacity: int
    load: int = Field(description="Mentees currently held (active reservations and assignments)")
    free: int
    status: str
    joined_year: int | None
    joined_assessment: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class MentorPage(BaseModel):
    items: list[MentorRead]
    next_cursor: str | None = None


class MembershipCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"year": 2026, "action": "confirmed", "assessment": "iku-2026"}]},
    )
    year: int = Field(ge=2000, le=2100)
    action: MembershipAction
    assessment: ExternalId | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class MembershipRead(BaseModel):
    id: int
    year: int
    action: str
    assessment: str | None
    note: str | None
    recorded_at: datetime


# ---------------------------------------------------------------- matching


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError("Конец периода раньше его начала")
        return self


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modes: list[Mode] = Field(default_factory=list, description="Preferred modes (points; filters when strict)")
    learning_types: list[LearningType] = Field(default_factory=list)
    kinds: list[ResourceKind] = Field(default_factory=list, description="Only these kinds (always a filter)")
    strict: bool = Field(default=False, description="Treat preferred modes and learning types as filters")


MATCH_EXAMPLE: dict[str, Any] = {
    "teacher_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
    "deficits": ["M3", "MATH.1"],
    "subject": "mathematics",
    "group": 1,
    "municipality": "mo-01",
    "period": {"start": "2026-09-01", "end": "2027-02-28"},
    "preferences": {"modes": ["online"], "learning_types": [], "kinds": [], "strict": False},
    "alternatives": 3,
    "mentor_alternatives": 2,
}


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [MATCH_EXAMPLE]})
    teacher_id: uuid.UUID | None = Field(default=None, description="Excludes the teacher's own offers")
    deficits: list[Competency] = Field(min_length=1, max_length=50, description="Competency codes")
    subject: Subject | None = None
    group: Group
    municipality: Code
    period: Period | None = None
    preferences: Preferences = Field(default_factory=Preferences)
    alternatives: int = Field(default=3, ge=1, le=10, description="Resources per deficit")
    mentor_alternatives: int = Field(default=2, ge=0, le=10, description="Mentors per deficit")

    _dedupe = field_validator("deficits")(_unique)


class ReasonRead(BaseModel):
    code: str
    points: float
    text: str


class AlternativeRead(BaseModel):
    rank: int
    item_type: Literal["resource", "mentor"]
    id: uuid.UUID = Field(description="Resource id, or mentor id (reserve with resource_id / mentor_id)")
    kind: str = Field(description="Resource kind, or the mentor's role")
    title: str
    learning_type: str
    mode: str
    municipalities: list[str]
    starts_on: date | None = None
    ends_on: date | None = None
    free: int | None
    mentor_teacher_id: uuid.UUID | None = None
    score: float
    covers: list[str] = Field(description="Which of the requested deficits it addresses")
    chosen_for_mix: bool = Field(description="Shown to vary the forms of learning rather than by score alone")
    rank_note: str
    reasons: list[ReasonRead] = Field(description="Points breakdown: the score is their sum")


class DeficitMatchRead(BaseModel):
    competency: str
    gap: bool = Field(description="Nothing in the catalogue serves this deficit here and now")
    alternatives: list[AlternativeRead]
    mentors: list[AlternativeRead]


class MatchResponse(BaseModel):
    deficits: list[DeficitMatchRead]
    learning_type_mix: dict[str, int]


class MatchBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[MatchRequest] = Field(min_length=1, max_length=1000)


class MatchBatchResponse(BaseModel):
    results: list[MatchResponse] = Field(description="In the order of the queries")


# ---------------------------------------------------------------- reservations

RESERVATION_EXAMPLE: dict[str, Any] = {
    "route_id": "0b7c9f3e-6a2d-4f1e-9c3a-2f3f1d1c2b3a",
    "teacher_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
    "resource_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "municipality": "mo-01",
    "organisation": "oo-0101",
}


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RESERVATION_EXAMPLE]})
    route_id: uuid.UUID
    teacher_id: uuid.UUID
    resource_id: uuid.UUID | None = None
    mentor_id: uuid.UUID | None = None
    subject: Subject | None = Field(default=None, description="For a mentor slot: the subject of mentoring")
    municipality: Code | None = Field(default=None, description="The teacher's municipality (scope)")
    organisation: Code | None = Field(default=None, description="The teacher's school (scope)")

    @model_validator(mode="after")
    def _one_target(self) -> ReservationCreate:
        if (self.resource_id is None) == (self.mentor_id is None):
            raise ValueError("Укажите что-то одно: ресурс или наставника")
        return self


class ReservationRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")
    route_id: uuid.UUID
    resource_id: uuid.UUID | None = None
    mentor_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ReservationRelease:
        if (self.resource_id is None) == (self.mentor_id is None):
            raise ValueError("Укажите что-то одно: ресурс или наставника")
        return self


class ReservationRead(BaseModel):
    id: uuid.UUID
    route_id: uuid.UUID | None
    teacher_id: uuid.UUID
    resource_id: uuid.UUID | None
    mentor_id: uuid.UUID | None
    subject: str | None
    municipality: str | None
    organisation: str | None
    origin: str = Field(description="route | assignment")
    status: str = Field(description="active | released")
    created_at: datetime
    released_at: datetime | None


class ReservationPage(BaseModel):
    items: list[ReservationRead]
    next_cursor: str | None = None


# ---------------------------------------------------------------- assignment


class MenteeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teacher_id: uuid.UUID
    subject: Subject
    municipality: Code
    group: Group
    deficits: list[Competency] = Field(default_factory=list, max_length=50)
    organisation: Code | None = None


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mentees": [
                        {
                            "teacher_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
                            "subject": "mathematics",
                            "municipality": "mo-01",
                            "group": 1,
                            "deficits": ["M2"],
                        }
                    ],
                    "apply": False,
                }
            ]
        },
    )
    mentees: list[MenteeIn] = Field(min_length=1, max_length=100_000)
    apply: bool = Field(default=False, description="Store the assignments (needs Idempotency-Key); else a plan")


class AssignedRead(BaseModel):
    teacher_id: uuid.UUID
    subject: str
    group: int
    municipality: str
    mentor_id: uuid.UUID
    mentor_teacher_id: uuid.UUID
    mentor_municipality: str
    tier: str = Field(description="same_municipality | neighbouring | online")
    reservation_id: uuid.UUID | None = None


class UnservedRead(BaseModel):
    teacher_id: uuid.UUID
    subject: str
    group: int
    municipality: str
    reason: str = Field(
        description="no-mentor-for-subject | no-reachable-mentor | capacity-exhausted | already-mentored"
    )
    message: str


class AssignmentResponse(BaseModel):
    algorithm: str
    applied: bool
    mentees: int
    served: int
    assignments: list[AssignedRead]
    unserved: list[UnservedRead]
    summary: dict[str, dict[str, int]]


# ---------------------------------------------------------------- resource map


class NeighbourPair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    municipality: Code
    neighbour: Code

    @model_validator(mode="after")
    def _distinct(self) -> NeighbourPair:
        if self.municipality == self.neighbour:
            raise ValueError("Муниципалитет не может быть соседом самому себе")
        return self


class NeighboursWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"pairs": [{"municipality": "mo-01", "neighbour": "mo-02"}]}]},
    )
    pairs: list[NeighbourPair] = Field(max_length=10_000)


class NeighboursRead(BaseModel):
    region: str
    pairs: list[NeighbourPair]


class DemandRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    municipality: Code
    subject: Subject
    teachers: int = Field(ge=0, le=10_000_000, description="Teachers with deficits there in that subject")


class CoverageRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"demand": [{"municipality": "mo-01", "subject": "mathematics", "teachers": 42}]}]
        },
    )
    demand: list[DemandRow] = Field(max_length=100_000)
    municipalities: list[Code] | None = Field(
        default=None,
        max_length=10_000,
        description="All municipalities of the region (to find ones with no methodists); "
        "default: the assessment service's directory",
    )


class CoverageCell(BaseModel):
    municipality: str
    subject: str
    demand: int | None = Field(description="Teachers with deficits; null when demand is unknown")
    methodists: int = Field(description="Active mentors/methodists of the subject in the municipality")
    free_slots: int = Field(description="Their free mentee slots")
    neighbour_methodists: int
    online_methodists: int = Field(description="Online/mixed mentors of the subject elsewhere in the region")
    resources: int = Field(description="Active subject resources available there (local, region-wide, online)")
    cross_subject_resources: int
    shortfall: int | None = Field(description="Demand not covered by local free slots")
    status: str = Field(description="no-methodists | short | covered | no-demand | unknown-demand")


class SubjectGap(BaseModel):
    subject: str
    demand: int | None
    methodists: int
    free_slots: int
    shortfall: int | None
    municipalities_without_methodists: int


class CoverageResponse(BaseModel):
    region: str | None
    demand_source: str = Field(description="request | assessment | unavailable")
    demand_note: str | None = None
    municipalities: list[str]
    cells: list[CoverageCell]
    municipalities_without_methodists: list[str]
    subjects_short_of_methodists: list[SubjectGap]
