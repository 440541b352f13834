"""API models of the audit service: XCreate / XWrite (inputs, extra fields refused) and XRead / XPage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.audit.procedure import Procedure
from services.audit.vocab import CRITERIA_COUNT, Band, Direction, DocumentType, Step

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
CampaignCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]

_FORBID = ConfigDict(extra="forbid")


# --- route audit ----------------------------------------------------------------------------------


class CriterionRead(BaseModel):
    number: int
    label: str
    score_labels: list[str] = Field(description="What 0, 1 and 2 mean")
    max_score: int


class GroupRuleRead(BaseModel):
    group: int
    procedure: Procedure
    sample_share: float | None = Field(default=None, description="Share of routes given a full review")
    named_second_check_allowed: bool = False


class AuditCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"route_id": "3f0c7b8e-2a52-4bde-9a1e-6c1b1f0d9a11"}]}
    )
    route_id: uuid.UUID = Field(description="A completed route in your scope")


class CriterionScore(BaseModel):
    model_config = _FORBID
    number: int = Field(ge=1, le=CRITERIA_COUNT)
    score: int = Field(ge=0, le=2, description="0 does not match, 1 partly, 2 matches")
    comment: Comment | None = None


class SecondCheck(BaseModel):
    """A named colleague who checked the review (allowed instead of a second auditor when configured)."""

    model_config = _FORBID
    name: Text300
    position: Text300 | None = None


REVIEW_EXAMPLE: dict[str, Any] = {
    "criteria": [{"number": n, "score": 2 if n % 3 else 1, "comment": None} for n in range(1, 11)],
    "second_check": None,
}


class ReviewWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [REVIEW_EXAMPLE]})
    criteria: list[CriterionScore] = Field(min_length=CRITERIA_COUNT, max_length=CRITERIA_COUNT)
    second_check: SecondCheck | None = None

    @field_validator("criteria")
    @classmethod
    def _each_once(cls, v: list[CriterionScore]) -> list[CriterionScore]:
        if sorted(c.number for c in v) != list(range(1, CRITERIA_COUNT + 1)):
            raise ValueError("Оцените каждый из десяти критериев ровно один раз")
        return sorted(v, key=lambda c: c.number)


class PrefillItem(BaseModel):
    number: int
    label: str
    self_score: int | None
    auto: bool
    reason: str | None


class ReviewRead(BaseModel):
    auditor: str
    auditor_name: str | None
    criteria: list[CriterionScore]
    total: int
    second_check: SecondCheck | None
    created_at: datetime
    updated_at: datetime


class RequirementRead(BaseModel):
    met: bool
    reviews_required: int
    reviews_done: int
    detail: str


class FinalCriterion(BaseModel):
    number: int
    label: str
    score: int


DeliveryStatus = Literal["not_started", "pending", "delivered", "failed"]


class DeliveryRead(BaseModel):
    """Whether the routes service has been told the route is audited."""

    status: DeliveryStatus
    attempts: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class AuditRead(BaseModel):
    id: uuid.UUID
    route_id: uuid.UUID
    route_version: int
    teacher_id: uuid.UUID
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int
    procedure: Procedure
    sampled: bool | None = Field(description="For sampled groups: whether the route fell in the sample")
    status: Literal["open", "completed"]
    prefill: list[PrefillItem] = Field(description="The route's self-check, which the review starts from")
    self_check_total: int | None
    reviews: list[ReviewRead]
    requirement: RequirementRead
    criteria: list[FinalCriterion] | None = Field(description="Final scores once completed")
    total: int | None = Field(description="0..20 once completed")
    disagreements: list[int] = Field(description="Criteria the auditors scored differently")
    created_by: str
    created_at: datetime
    completed_by: str | None
    completed_at: datetime | None
    version: int
    delivery: DeliveryRead


class AuditListItem(BaseModel):
    id: uuid.UUID
    route_id: uuid.UUID
    teacher_id: uuid.UUID
    municipality: str
    organisation: str
    subject: str | None
    group: int
    procedure: Procedure
    status: Literal["open", "completed"]
    total: int | None
    created_at: datetime
    completed_at: datetime | None
    delivery_status: DeliveryStatus


class AuditPage(BaseModel):
    items: list[AuditListItem]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class CriterionAverage(BaseModel):
    number: int
    label: str
    average: float | None


class AuditStatsGroup(BaseModel):
    key: str
    label: str | None = None
    audits: int
    average_total: float | None
    criteria: list[CriterionAverage]
    weakest: list[int] = Field(description="Criterion numbers with the lowest averages, weakest first")


class AuditStats(BaseModel):
    by: Literal["municipality", "organisation", "auditor"]
    overall: AuditStatsGroup
    groups: list[AuditStatsGroup]


# --- monitoring -----------------------------------------------------------------------------------


class StepRead(BaseModel):
    step: Step
    label: str
    max: int


class BandRead(BaseModel):
    band: Band
    label: str
    colour: str
    from_percent: int
    to_percent: int | None


class MonitoringVocabulary(BaseModel):
    steps: list[StepRead]
    bands: list[BandRead]
    total_max: int


class CampaignCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "2026-spring", "title": "Мониторинг ММС, весна 2026", "held_on": "2026-04-15"}]
        },
    )
    code: CampaignCode
    title: Text300
    held_on: date
    previous_id: uuid.UUID | None = Field(
        default=None, description="Campaign to compare with; by default the region's latest earlier one"
    )
    region: Code | None = Field(default=None, description="Only for callers whose credential has no region")


class CampaignRead(BaseModel):
    id: uuid.UUID
    region: str
    code: str
    title: str
    held_on: date
    previous_id: uuid.UUID | None
    created_at: datetime
    municipalities: int = Field(description="Municipalities with scores")


class CampaignPage(BaseModel):
    items: list[CampaignRead]
    next_cursor: str | None = None


SCORE_ROW_EXAMPLE: dict[str, Any] = {
    "municipality": "mo-01",
    "municipality_name": "Городской округ Северный",
    "goals": 15,
    "indicators": 7,
    "methods": 2,
    "monitoring": 10,
    "analysis": 9.5,
    "recommendations": 6,
    "measures": 14,
    "decisions": 2,
    "effectiveness": 1,
    "total": 66.5,
}


class ScoreUpload(BaseModel):
    """JSON form of the upload; CSV and XLSX use the same columns (or the Russian step names) in a header row."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rows": [SCORE_ROW_EXAMPLE]}]})
    rows: list[dict[str, Any]] = Field(min_length=1, description="municipality, municipality_name, nine steps, total")


class UploadResult(BaseModel):
    received: int
    inserted: int
    updated: int
    removed: int = 0


class StepScore(BaseModel):
    step: Step
    points: float
    max: int
    percent: float
    band: Band


class ChangeRead(BaseModel):
    previous_total: float
    delta_total: float
    previous_band: Band
    step_deltas: dict[str, float] = Field(description="Percentage points per step against the previous campaign")


class ScoreRead(BaseModel):
    municipality: str
    municipality_name: str | None
    steps: list[StepScore]
    total: float
    total_percent: float
    band: Band
    weak_steps: list[Step]
    needs_self_audit: bool
    change: ChangeRead | None


class ScorePage(BaseModel):
    items: list[ScoreRead]
    next_cursor: str | None = None


class StepSummaryRead(BaseModel):
    step: Step
    label: str
    max: int
    average_points: float
    percent: float
    band: Band
    municipalities_below_30: int
    rank: int = Field(description="1 is the weakest step of the region")
    delta: float | None = Field(description="Percentage points against the previous campaign")


class MunicipalityBrief(BaseModel):
    municipality: str
    municipality_name: str | None
    total: float
    band: Band


class SelfAuditItem(MunicipalityBrief):
    reasons: list[str]


class RegionSummary(BaseModel):
    municipalities: int
    average_total: float | None
    band: Band | None
    band_counts: dict[str, int]
    previous_average_total: float | None


class BandLabel(BaseModel):
    band: Band
    label: str


class ReportRead(BaseModel):
    campaign: CampaignRead
    previous: CampaignRead | None
    municipalities: list[ScoreRead]
    steps: list[StepSummaryRead]
    top_deficits: list[StepSummaryRead]
    not_engaged: list[MunicipalityBrief]
    leaders: list[MunicipalityBrief]
    needing_self_audit: list[SelfAuditItem]
    region: RegionSummary
    bands: list[BandLabel]


# --- checklists -----------------------------------------------------------------------------------


class DocumentWrite(BaseModel):
    model_config = _FORBID
    type: DocumentType
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    date: date


class DirectionWrite(BaseModel):
    model_config = _FORBID
    direction: Direction
    goals_and_tasks: bool
    quantitative_indicators: bool
    qualitative_indicators: bool
    collection_methods: bool = Field(description="Methods of collecting and processing information are described")


CHECKLIST_EXAMPLE: dict[str, Any] = {
    "documents": [{"type": "concept", "name": "Концепция муниципальной методической службы", "date": "2025-09-01"}],
    "directions": [
        {
            "direction": d.value,
            "goals_and_tasks": True,
            "quantitative_indicators": True,
            "qualitative_indicators": False,
            "collection_methods": False,
        }
        for d in Direction
    ],
}


class ChecklistWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CHECKLIST_EXAMPLE]})
    documents: list[DocumentWrite] = Field(default_factory=list, max_length=200)
    directions: list[DirectionWrite] = Field(min_length=len(Direction), max_length=len(Direction))

    @field_validator("directions")
    @classmethod
    def _each_once(cls, v: list[DirectionWrite]) -> list[DirectionWrite]:
        if {d.direction for d in v} != set(Direction):
            raise ValueError("Заполните каждое из двенадцати направлений ровно один раз")
        order = list(Direction)
        return sorted(v, key=lambda d: order.index(d.direction))


class ChecklistRead(BaseModel):
    region: str
    municipality: str
    documents: list[DocumentWrite]
    directions: list[DirectionWrite]
    completeness: float = Field(description="Percent of the 12 x 4 answers that are yes")
    updated_at: datetime
    version: int


class ChecklistPage(BaseModel):
    items: list[ChecklistRead]
    next_cursor: str | None = None


class LabelledCode(BaseModel):
    code: str
    label: str


class ChecklistVocabulary(BaseModel):
    directions: list[LabelledCode]
    elements: list[LabelledCode]
    document_types: list[LabelledCode]


class DirectionSummary(BaseModel):
    direction: Direction
    label: str
    counts: dict[str, int]
    shares: dict[str, float | None]
    completeness: float | None
    rank: int = Field(description="1 is the weakest direction")


class MunicipalityCompleteness(BaseModel):
    municipality: str
    completeness: float
    documents: int


class ElementLabel(BaseModel):
    element: str
    label: str


class ChecklistSummary(BaseModel):
    municipalities: int
    directions: list[DirectionSummary]
    weakest_directions: list[Direction]
    municipalities_without_documents: list[str]
    by_municipality: list[MunicipalityCompleteness]
    elements: list[ElementLabel]


# --- KPIs and effectiveness -----------------------------------------------------------------------


class KpiRead(BaseModel):
    code: str
    label: str
    kind: Literal["share", "count"]
    source: str
    status: Literal["ok", "unavailable"]
    value: float | None = Field(description="Percent for shares, the number for counts")
    numerator: int | None
    denominator: int | None
    target: float | None
    meets_target: bool | None
    detail: str | None


class KpiScope(BaseModel):
    region: str | None
    municipality: str | None
    organisation: str | None = None
    date_from: date | None
    date_to: date | None


class KpiDashboard(BaseModel):
    scope: KpiScope
    kpis: list[KpiRead]
    monitoring_campaign: str | None = Field(description="Code of the monitoring campaign used for engagement")


class Tally(BaseModel):
    teachers: int
    deficits_before: int
    deficits_closed: int
    improved: int
    same: int
    declined: int
    reliable: bool = Field(description="Enough teachers (min_group_size) for the shares to be read")
    closed_share: float | None
    improved_share: float | None
    improved_share_ci95: list[float] | None
    mean_level_change: float | None


class TallyPair(BaseModel):
    key: str
    with_route: Tally
    without_route: Tally | None = None


class Difference(BaseModel):
    closed_share_pp: float | None
    improved_share_pp: float | None


class EffectivenessRead(BaseModel):
    scope: KpiScope
    min_group_size: int
    with_route: Tally
    without_route: Tally
    difference: Difference
    by_resource_kind: list[TallyPair]
    by_mentor: list[TallyPair]
    by_municipality: list[TallyPair]
    by_group: list[TallyPair]
