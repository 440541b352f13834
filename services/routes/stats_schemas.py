"""The answer of `GET /routes/stats`: the KPI counts and the school's workspace."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.routes.workflow import Status


class StatusGroupCount(BaseModel):
    status: Status
    group: int = Field(description="Support group 1-4")
    routes: int


class TutorLoad(BaseModel):
    tutor_id: str | None = Field(description="The tutor's teacher id (None for a tutor named by text only)")
    name: str | None = Field(description="The tutor's name as written at approval, when given")
    active_routes: int = Field(description="Approved or running routes the tutor accompanies")


class RouteStats(BaseModel):
    teachers_with_route: int
    routes_created: int = Field(description="Routes created in the period")
    routes_completed: int
    teachers_completed_matching_courses: int
    by_status_and_group: list[StatusGroupCount] = Field(default_factory=list)
    overdue_control_points: int = Field(default=0, description="Past their date, no result, task not done")
    routes_with_overdue: int = Field(default=0, description="Active routes with an overdue control point")
    tutors: list[TutorLoad] = Field(default_factory=list)
