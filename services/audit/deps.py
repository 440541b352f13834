"""What the audit routers are given besides the request: settings, the upstream client, the outbox, the group rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.audit.clients import MunicipalityDirectory, Upstream
from services.audit.config import AuditSettings
from services.audit.outbox import RouteOutbox
from services.audit.procedure import GroupRules


def get_settings(request: Request) -> AuditSettings:
    settings: AuditSettings = request.app.state.settings
    return settings


def get_upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


def get_municipalities(request: Request) -> MunicipalityDirectory:
    directory: MunicipalityDirectory = request.app.state.municipalities
    return directory


def get_outbox(request: Request) -> RouteOutbox:
    outbox: RouteOutbox = request.app.state.outbox
    return outbox


def get_group_rules(settings: Annotated[AuditSettings, Depends(get_settings)]) -> GroupRules:
    return settings.group_rules()


Settings = Annotated[AuditSettings, Depends(get_settings)]
UpstreamClient = Annotated[Upstream, Depends(get_upstream)]
Municipalities = Annotated[MunicipalityDirectory, Depends(get_municipalities)]
Outbox = Annotated[RouteOutbox, Depends(get_outbox)]
Rules = Annotated[GroupRules, Depends(get_group_rules)]
