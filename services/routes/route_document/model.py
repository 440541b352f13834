"""The route's content as the API describes it: sections 1-7, goals, tasks, forms of work, control points.

The models only describe (OpenAPI, generated clients) and check the content where a write answers the route;
the hot read passes the stored JSON through as it is (services.routes.reader). Every field is optional and
unknown fields are kept, so routes stored before a field existed are still served as they were stored; an
endpoint answering a route leaves out what the route does not hold (response_model_exclude_unset)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Part(BaseModel):
    """A part of the stored content: fields it does not name are kept as they are."""

    model_config = ConfigDict(extra="allow")


class Period(Part):
    start: dt.date | None = Field(default=None, description="First day of the route")
    end: dt.date | None = Field(default=None, description="Last day of the route")
    months: int | None = Field(default=None, description="Length of the route for the support group")


class ControlPoint(Part):
    """When the teacher presents what, and who checks it."""

    date: dt.date | None = None
    task_id: str | None = Field(default=None, description="The task whose result is presented")
    what: str | None = Field(default=None, description="What is presented, in Russian")
    checked_by: str | None = Field(default=None, description="Who checks it (role, with the mentor's name)")


class TaskControlPoint(Part):
    date: dt.date | None = None
    what: str | None = None


class FormOfWork(Part):
    """A concrete form of work the resource map offers for a task."""

    resource_id: str | None = None
    kind: str | None = Field(default=None, description="Resource kind (course, event, community, ...)")
    title: str | None = None
    learning_type: str | None = Field(default=None, description="formal, non_formal or informal")
    mode: str | None = Field(default=None, description="online, offline or mixed")
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    hours: int | None = None
    provider: str | None = None
    free: int | None = Field(default=None, description="Seats left; null: no limit")
    reason: str | None = Field(default=None, description="Why it is offered, in one line")
    reasons: list[str] | None = Field(default=None, description="Why it is offered, as distinct facts")


class ElementReason(Part):
    """Which deficit (or strength) and which rule produced an element of the route."""

    deficit: str | None = None
    strength: str | None = None
    explanation: str | None = None
    rule: str | None = None


class EvidenceItem(Part):
    title: str | None = None
    url: str | None = None


class Task(Part):
    """One educational task of the goals-and-tasks table."""

    id: str | None = None
    kind: str | None = Field(default=None, description="learning or practice_change")
    formulation: str | None = None
    forms: list[FormOfWork] | None = Field(default=None, description="Forms of work to choose from")
    chosen_resource_id: str | None = Field(default=None, description="The form the teacher chose")
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    control_point: TaskControlPoint | None = None
    result_form: str | None = Field(default=None, description="Form of presenting the result")
    reason: ElementReason | None = None
    done: bool | None = None
    evidence: list[EvidenceItem] | None = None


class Goal(Part):
    """A problem (goal) for the period, from one deficit, with its tasks."""

    id: str | None = None
    competency: str | None = None
    competency_name: str | None = None
    problem: str | None = None
    reason: ElementReason | None = None
    tasks: list[Task] | None = None


class PersonalProfile(Part):
    full_name: str | None = None
    organisation: str | None = Field(default=None, description="School code (its name: the directory)")
    municipality: str | None = Field(default=None, description="Municipality code (its name: the directory)")


class ProfessionalProfile(Part):
    position: str | None = None
    experience_years: int | None = None
    qualification_category: str | None = Field(default=None, description="none, conformity, first or highest")
    achievements: list[Any] | None = None
    courses_last_3_years: list[Any] | None = None


class CompetencyLine(Part):
    code: str | None = None
    name: str | None = None
    percent: float | None = None
    status: str | None = Field(default=None, description="deficit, growth or strength")


class CompetencyProfile(Part):
    campaign_id: str | None = None
    subject: str | None = None
    level: str | None = None
    group: int | None = None
    total_percent: float | None = None
    framework_version: str | None = None
    competencies: list[CompetencyLine] | None = None
    deficits: list[str] | None = None
    strengths: list[str] | None = None


class ProfessionalRequest(Part):
    text: str | None = None
    interests: list[str] | None = None


class Recommendation(Part):
    text: str | None = None
    reason: ElementReason | None = None


class Reflection(Part):
    text: str | None = None
    products: list[EvidenceItem] | None = None


class Sections(Part):
    """Sections 1-7 of the ИОМ."""

    personal_profile: PersonalProfile | None = None
    professional_profile: ProfessionalProfile | None = None
    competency_profile: CompetencyProfile | None = None
    professional_request: ProfessionalRequest | None = None
    goals: list[Goal] | None = None
    recommendations: list[Recommendation] | None = None
    reflection: Reflection | None = None


class Mentoring(Part):
    mentor_id: str | None = None
    label: str | None = Field(default=None, description="The mentor's name")
    reason: str | None = None
    programme_years: list[int] | None = None


class RouteContent(Part):
    """The route's content: its period, control points, sections 1-7 and mentoring."""

    period: Period | None = None
    control_points: list[ControlPoint] | None = None
    group: int | None = None
    sections: Sections | None = None
    mentoring: Mentoring | None = None
    review: str | None = Field(default=None, description="How closely the route is reviewed for its group")
