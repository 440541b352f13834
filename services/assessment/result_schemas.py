"""API models of assessment intake: frameworks, campaigns, uploads, results, profile, feed, analytics."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.assessment.scoring import DEFAULT_DEFICIT_BELOW, DEFAULT_STRENGTH_FROM, Area, Band, Level
from services.assessment.vocab import Subject

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
ItemCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Percent = Annotated[float, Field(ge=0, le=100)]

_FORBID = ConfigDict(extra="forbid")


class CampaignSource(enum.StrEnum):
    fioko_subject = "fioko_subject"  # ФИОКО: оценка предметных компетенций (ОКУ)
    fioko_methodological = "fioko_methodological"  # ФИОКО: оценка методических компетенций (ОМК)
    regional_iku = "regional_iku"  # региональное исследование компетенций учителей (ИКУ)
    school_diagnostic = "school_diagnostic"  # школьная диагностика («Я учитель» и др.)


class CampaignStatus(enum.StrEnum):
    planned = "planned"
    open = "open"  # results are accepted
    closed = "closed"


class UploadMode(enum.StrEnum):
    all = "all"
    partial = "partial"


# --- frameworks ------------------------------------------------------------------------------------


class ThresholdsIn(BaseModel):
    model_config = _FORBID
    deficit_below: Percent = Field(
        default=DEFAULT_DEFICIT_BELOW, description="A competency percent below this is a deficit"
    )
    strength_from: Percent = Field(
        default=DEFAULT_STRENGTH_FROM, description="A competency percent from this on is a strength"
    )


class CompetencyIn(BaseModel):
    model_config = _FORBID
    code: Code
    name: Text300
    area: Area
    subject: Subject | None = Field(default=None, description="Required for subject competencies")
    skills: list[Text300] = Field(default_factory=list, max_length=50, description="Checked skills")
    thresholds: ThresholdsIn | None = Field(default=None, description="Overrides the framework's thresholds")


class ItemIn(BaseModel):
    model_config = _FORBID
    code: ItemCode = Field(description="Item code, also the upload column name (e.g. `7`)")
    competency: Code
    max_points: float = Field(gt=0, le=1000)


class InstrumentIn(BaseModel):
    model_config = _FORBID
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    name: Text300
    subject: Subject | None = Field(default=None, description="None: usable in a campaign of any subject")
    items: list[ItemIn] = Field(min_length=1, max_length=500)


class LevelCutIn(BaseModel):
    model_config = _FORBID
    level: Level
    group: int = Field(ge=1, le=4)
    min_percent: Percent


class FrameworkCreate(BaseModel):
    """A competency framework; storing a code again makes its next version (earlier ones stay)."""

    model_config = _FORBID
    code: Code
    name: Text300
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)
    levels: list[LevelCutIn] = Field(min_length=4, max_length=4, description="low, basic, elevated, high")
    competencies: list[CompetencyIn] = Field(min_length=1, max_length=500)
    instruments: list[InstrumentIn] = Field(min_length=1, max_length=100)


class FrameworkSummary(BaseModel):
    id: uuid.UUID
    region: str | None
    code: str
    version: int
    name: str
    created_at: datetime
    instruments: list[str]


class FrameworkRead(FrameworkSummary):
    document: dict[str, Any]


# --- campaigns -------------------------------------------------------------------------------------


class AssessmentCampaignCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "ФИОКО 2026: учителя математики",
                    "source": "fioko_subject",
                    "subject": "mathematics",
                    "assessed_on": "2026-04-15",
                    "framework_code": "default",
                    "instrument": "oku-omk-mathematics",
                }
            ]
        },
    )
    name: Text300
    source: CampaignSource
    subject: Subject
    assessed_on: date
    framework_code: Code
    framework_version: int | None = Field(default=None, ge=1, description="Default: the latest version")
    instrument: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    status: CampaignStatus = CampaignStatus.open


class AssessmentCampaignUpdate(BaseModel):
    model_config = _FORBID
    name: Text300 | None = None
    status: CampaignStatus | None = None


class AssessmentCampaignRead(BaseModel):
    id: uuid.UUID
    region: str | None
    name: str
    source: str
    subject: str
    assessed_on: date
    framework_id: uuid.UUID
    framework_code: str
    framework_version: int
    instrument: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class AssessmentCampaignPage(BaseModel):
    items: list[AssessmentCampaignRead]
    next_cursor: str | None = None


class RescoreRequest(BaseModel):
    model_config = _FORBID
    framework_version: int = Field(ge=1, description="A version of the campaign's framework code")


class RescoreResult(BaseModel):
    campaign: AssessmentCampaignRead
    results: int = Field(description="Results recomputed")
    changed: int = Field(description="Results whose scores changed (each announced in the change feed)")


class RowError(BaseModel):
    """A rejected row of an upload (same fields as the problem's `errors`); never echoes the value."""

    loc: list[str | int]
    code: str
    message: str
    row: int | None = None
    column: str | None = None


class UploadResult(BaseModel):
    batch_id: uuid.UUID
    campaign_id: uuid.UUID
    mode: UploadMode
    format: str
    rows: int = Field(description="Data rows read")
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RowError] = Field(default_factory=list, description="Rejected rows (partial mode)")
    errors_truncated: bool = False


class BatchRead(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    format: str
    mode: str
    size_bytes: int
    rows_total: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    created_at: datetime


# --- results ---------------------------------------------------------------------------------------


class ItemScore(BaseModel):
    item: str
    points: float
    max_points: float


class CompetencyScore(BaseModel):
    competency: str
    name: str
    area: str
    subject: str | None
    points: float
    max_points: float
    percent: float
    band: Band
    threshold: float = Field(description="The threshold that decided the band (percent)")
    items: list[ItemScore]
    explanation: str = Field(description="Why the band, in Russian: points, threshold, items that lost points")
    skills: list[str]


class CampaignRef(BaseModel):
    id: uuid.UUID
    name: str
    source: str
    subject: str
    assessed_on: date
    instrument: str


class FrameworkRef(BaseModel):
    id: uuid.UUID
    code: str
    version: int


class Change(BaseModel):
    """Change against the teacher's previous result in the same subject."""

    previous_result_id: uuid.UUID
    previous_campaign_id: uuid.UUID
    previous_level: Level
    previous_group: int
    group_delta: int
    percent_delta: float
    direction: str = Field(description="up / down / same (by group, then percent)")
    closed_deficits: list[str]
    new_deficits: list[str]


class ResultRead(BaseModel):
    id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    municipality: str
    organisation: str
    campaign: CampaignRef
    framework: FrameworkRef
    total_points: float
    max_points: float
    percent: float
    level: Level
    level_label: str
    group: int
    level_source: str = Field(description="computed from the total, or reported by the assessment operator")
    competencies: list[CompetencyScore]
    deficits: list[CompetencyScore]
    growth_points: list[CompetencyScore]
    strengths: list[CompetencyScore]
    change: Change | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class ResultPage(BaseModel):
    items: list[ResultRead]
    next_cursor: str | None = None


class SubjectStanding(BaseModel):
    subject: str
    result_id: uuid.UUID
    campaign_id: uuid.UUID
    assessed_on: date
    level: Level
    group: int
    percent: float
    deficits: list[CompetencyScore]
    strengths: list[CompetencyScore]
    change: Change | None


class TeacherProfile(BaseModel):
    teacher_id: uuid.UUID
    external_id: str
    full_name: str
    municipality: str
    organisation: str
    subjects: list[str]
    current: list[SubjectStanding] = Field(description="The latest result per subject")
    results: list[ResultRead] = Field(description="All results, oldest first")


# --- feed ------------------------------------------------------------------------------------------


class ChangeItem(BaseModel):
    """A stored or changed result, with everything the routes service needs to build a route."""

    change_id: str = Field(description="Opaque; unique per announcement")
    changed_at: datetime
    result_id: uuid.UUID
    result_version: int = Field(description="Dedupe by (teacher_id, campaign_id, result_version)")
    teacher_id: uuid.UUID
    external_id: str
    full_name: str
    position: str
    teacher_subjects: list[str]
    qualification_category: str
    experience_years: int
    depersonalised: bool = Field(
        default=False,
        description="The teacher was depersonalised: drop the name and personal text you keep of them",
    )
    region: str
    municipality: str
    organisation: str
    campaign_id: uuid.UUID
    campaign_source: str
    assessed_on: date
    subject: str
    framework_code: str
    framework_version: int
    instrument: str
    total_points: float
    max_points: float
    percent: float
    level: Level
    group: int
    competencies: list[CompetencyScore]
    deficits: list[str] = Field(description="Codes of the competencies in deficit (details in `competencies`)")
    growth_points: list[str] = Field(description="Codes of the growth points")
    strengths: list[str] = Field(description="Codes of the strengths")


class ChangePage(BaseModel):
    items: list[ChangeItem]
    next_cursor: str = Field(description="Pass as `after` next time (store it once the items are processed)")
    has_more: bool


# --- analytics -------------------------------------------------------------------------------------


class LevelShare(BaseModel):
    level: Level
    group: int
    count: int
    percent: float


class DistributionRow(BaseModel):
    key: str
    label: str
    total: int
    levels: list[LevelShare]


class LevelDistribution(BaseModel):
    group_by: str
    rows: list[DistributionRow]
    overall: DistributionRow


class YearPoint(BaseModel):
    year: int
    count: int
    percent: float
    delta: float | None = Field(description="Percentage points against the previous year")
    marker: str | None = Field(description="up / down / same against the previous year")


class GroupSeries(BaseModel):
    group: int
    level: Level
    years: list[YearPoint]


class SubjectDynamics(BaseModel):
    subject: str
    assessed_by_year: dict[str, int]
    groups: list[GroupSeries]
    basic_or_higher: list[YearPoint]


class Dynamics(BaseModel):
    subjects: list[SubjectDynamics]


class DeficitRank(BaseModel):
    competency: str
    name: str
    area: str
    count: int
    percent: float = Field(description="Share of the subject's assessed teachers with this deficit")


class SubjectDeficits(BaseModel):
    subject: str
    assessed: int
    top: list[DeficitRank]


class TopDeficits(BaseModel):
    subjects: list[SubjectDeficits]


class DemandRow(BaseModel):
    municipality: str
    subject: str
    teachers: int = Field(description="Teachers whose latest result in the subject has at least one deficit")
    assessed: int = Field(description="Teachers with a result in the subject")


class DeficitDemand(BaseModel):
    items: list[DemandRow]


class Kpi(BaseModel):
    assessed: int = Field(description="Teachers with a result (their latest counts)")
    basic_or_higher: int
    share_basic_or_higher: float = Field(description="Percent of assessed teachers at basic level or higher")
    target: float = 60.0
    meets_target: bool
    registered_teachers: int
    share_assessed: float = Field(description="Percent of registered teachers in scope with a result")
    young_teachers: int = Field(default=0, description="Registered teachers under 35 this year (by year of birth)")
    birth_year_known: int = Field(default=0, description="Registered teachers whose year of birth is known")
    young_teacher_ids: list[uuid.UUID] | None = Field(
        default=None, description="Ids of the young teachers (only with young_ids=true)"
    )
