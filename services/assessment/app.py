"""The assessment service: intake of assessment results, teachers, levels and deficits."""

import re
from typing import Any

from kit.app import create_service_app
from services.assessment.api import (
    analytics,
    campaigns,
    changes,
    directory,
    frameworks,
    personal_data,
    results,
    teachers,
)
from services.assessment.config import AssessmentSettings
from services.assessment.hot_reads import hot_reads

# Only the results upload takes large bodies (it streams them to disk and applies its own limits).
RESULTS_UPLOAD_PATH = re.compile(r"^/api/v1/campaigns/[^/]+/results/?$")


def create_app(settings: AssessmentSettings | None = None) -> Any:
    settings = settings or AssessmentSettings()
    asgi = create_service_app(
        settings=settings,
        title="IOM assessment service",
        description="Teacher registry, competency frameworks, assessment campaigns and results, levels, "
        "explained deficits, analytics and the change feed of results.",
        hot_reads=hot_reads(),
        routers=[
            directory.router,
            teachers.router,
            frameworks.router,
            campaigns.router,
            results.router,
            analytics.router,
            changes.router,
            personal_data.router,
        ],
        body_limits={"/api/v1/teachers/bulk": 20 * 1024 * 1024},
    )
    # Prefix limits cannot single out /campaigns/{id}/results, so widen the limit for that path only.
    prefix_limit = asgi.limit_for

    def limit_for(path: str) -> int:
        if RESULTS_UPLOAD_PATH.match(path):
            return settings.max_upload_bytes
        return int(prefix_limit(path))

    asgi.limit_for = limit_for
    return asgi
