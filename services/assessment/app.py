"""The assessment service: intake of assessment results, teachers, levels and deficits."""

import asyncio
import logging
import re
from typing import Any

from fastapi import FastAPI

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
from services.assessment.intake import sweep_spools

log = logging.getLogger("assessment")

# Only the results upload takes large bodies (it streams them to disk and applies its own limits).
RESULTS_UPLOAD_PATH = re.compile(r"^/api/v1/campaigns/[^/]+/results/?$")


def create_app(settings: AssessmentSettings | None = None) -> Any:
    settings = settings or AssessmentSettings()

    async def sweep_stale_uploads(app: FastAPI) -> None:
        removed = await asyncio.to_thread(sweep_spools, settings.upload_dir)
        if removed:
            log.info("stale spooled uploads removed", extra={"files": removed})

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
        on_startup=[sweep_stale_uploads],
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
