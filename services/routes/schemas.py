"""API models of the routes service."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kit.weburl import WebUrl
from services.routes.route_document.model import Part, RouteContent
from services.routes.workflow import Action, Status

Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class CriterionScore(BaseModel):
    number: int
    title: str
    score: int | None = Field(description="0..2; null until scored")
    auto: bool = Field(description="Scored by the machine from the route's data (else by a person)")
    scored: bool = Field(default=True, description="Whether the criterion has a score yet")
    reason: str | None = Field(description="Why this score, naming the tasks that lose points; or who scores it")


class SelfCheck(BaseModel):
    criteria: list[CriterionScore]
    total: int | None = Field(description="0..20 once every criterion is scored")
    auto_total: int = Field(description="Sum of the machine's scores")
    auto_max: int | None = Field(default=None, description="What the machine's scored criteria could reach")


class RouteSummary(BaseModel):
    id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    teacher_name: str
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int = Field(description="Support group 1 (low) .. 4 (high)")
    status: Status
    version: int
    period_start: date
    period_end: date
    next_control_on: date | None
    mentor_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class PrintFormat(enum.StrEnum):
    """Formats of the printed route."""

    html = "html"
    docx = "docx"
    pdf = "pdf"


class TutorRead(Part):
    """The tutor the school named when it approved the route."""

    name: str | None = None
    position: str | None = None


class RouteRead(RouteSummary):
    content_version: int
    content: RouteContent = Field(description="Sections 1-7 of the route, each generated element with its reason")
    self_check: SelfCheck
    tutor: TutorRead | None
    overrides: list[dict[str, Any]]
    allowed_actions: list[str] = Field(description="Transitions the caller may take now")
    audit_id: uuid.UUID | None
    audit_total: int | None


class RoutePage(BaseModel):
    items: list[RouteSummary]
    next_cursor: str | None = None


class Tutor(BaseModel):
    """The tutor the school deputy chooses at approval: a registered teacher of the route's school (by id),
    not the route's own teacher; the registry is asked for the name and position."""

    model_config = ConfigDict(extra="forbid")
    teacher_id: uuid.UUID = Field(description="A teacher of the registry, of the same school as the route's teacher")


class FileMeta(BaseModel):
    """What is kept of a file the teacher presents: its name, size, media type and SHA-256 (never its body)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    size: Annotated[int, Field(ge=0, le=10**12)]
    media_type: Annotated[str, StringConstraints(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Evidence(BaseModel):
    """A product of the teacher's work: its title and, when it is online, an http(s) link, and, when it is a
    file, the file's metadata (name, size, media type, SHA-256)."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    url: WebUrl | None = None
    file: FileMeta | None = None


class TransitionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "return_for_correction", "comment": "Уточнить сроки стажировки"},
                {"action": "approve", "tutor": {"teacher_id": "5b1f6c1e-2f0a-4f7e-9a43-3c2d1e0f9a8b"}},
                {
                    "action": "complete",
                    "evidence": [
                        {"title": "Сценарий урока", "url": "https://school.example/files/1"},
                        {
                            "title": "Карта самоанализа",
                            "file": {
                                "name": "самоанализ.pdf",
                                "size": 48213,
                                "media_type": "application/pdf",
                                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                            },
                        },
                    ],
                },
            ]
        },
    )
    action: Action
    comment: Comment | None = None
    tutor: Tutor | None = Field(default=None, description="Required to approve: the tutor, a teacher of the school")
    evidence: list[Evidence] | None = Field(
        default=None, max_length=50, description="Required to complete: the products (links, files' metadata)"
    )


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    actor_role: str
    action: str
    from_status: str | None
    to_status: str | None
    comment: str | None
    content_version: int | None


class RequestUpdate(BaseModel):
    """The teacher's professional request (section 4)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Хочу научиться...", "interests": ["оценивание"]}]}
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
    interests: list[Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=list, max_length=20)


class TaskUpdate(BaseModel):
    """Change one task. Generated fields need a reason (kept as an override); choosing a form or
    reporting progress does not."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ends_on": "2027-03-01", "reason": "Курс перенесён провайдером"}]},
    )
    formulation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=1000)] | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    result_form: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)] | None = None
    chosen_resource_id: str | None = Field(default=None, max_length=64)
    done: bool | None = None
    evidence: list[Evidence] | None = Field(default=None, max_length=20)
    reason: Reason | None = None


class RecommendationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class SelfCheckUpdate(BaseModel):
    """Scores (0, 1, 2) of the criteria people judge: 2, 3, 5, 7, 10 (others are machine-scored)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"scores": {"2": 2, "3": 1, "5": 2, "7": 2, "10": 1}}]}
    )
    scores: dict[int, Annotated[int, Field(ge=0, le=2)]]


class GenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"teacher_id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a"}]}
    )
    teacher_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None


class GenerateResult(BaseModel):
    considered: int
    created: int
    regenerated: int
    unchanged: int
    outdated: int = Field(description="Results too old for a route (history loaded for dynamics)")


class AuditedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audit_id: uuid.UUID
    total: Annotated[int, Field(ge=0, le=20)]
    completed_at: datetime


class Outcome(BaseModel):
    route_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    group: int
    subject: str | None
    status: Status
    completed_at: datetime | None
    resource_kinds: list[str]
    mentor_id: str | None
    deficits: list[str]


class OutcomePage(BaseModel):
    items: list[Outcome]
    next_cursor: str | None = None
