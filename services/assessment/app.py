"""The assessment service: intake of assessment results, teachers, levels and deficits."""

from typing import Any

from kit.app import create_service_app
from services.assessment.api import directory, teachers
from services.assessment.config import AssessmentSettings


def create_app(settings: AssessmentSettings | None = None) -> Any:
    settings = settings or AssessmentSettings()
    return create_service_app(
        settings=settings,
        title="IOM assessment service",
        description="Teacher registry, assessment campaigns and results, levels and deficits.",
        routers=[directory.router, teachers.router],
        body_limits={"/api/v1/teachers/bulk": 20 * 1024 * 1024},
    )
