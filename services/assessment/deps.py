"""Dependencies that hand the service's settings to the routers (read from the app, never inline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.assessment.config import AssessmentSettings


def get_settings(request: Request) -> AssessmentSettings:
    settings: AssessmentSettings = request.app.state.settings
    return settings


Settings = Annotated[AssessmentSettings, Depends(get_settings)]
