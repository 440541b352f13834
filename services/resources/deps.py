"""Settings and clients of the resources service as dependencies of its routers (from the app's state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kit.client import GatewayClient
from services.resources.clients import AssessmentClient, RegistryClient, RoutesClient, SummarySources
from services.resources.config import ResourcesSettings


def get_settings(request: Request) -> ResourcesSettings:
    settings: ResourcesSettings = request.app.state.settings
    return settings


def get_assessment(request: Request) -> AssessmentClient:
    gateway: GatewayClient = request.app.state.gateway
    return AssessmentClient(gateway)


def get_registry(request: Request) -> RegistryClient:
    gateway: GatewayClient = request.app.state.gateway
    return RegistryClient(gateway)


def get_routes(request: Request) -> RoutesClient:
    gateway: GatewayClient = request.app.state.gateway
    return RoutesClient(gateway)


def get_summary_sources(request: Request) -> SummarySources:
    gateway: GatewayClient = request.app.state.gateway
    return SummarySources(gateway)


Settings = Annotated[ResourcesSettings, Depends(get_settings)]
Assessment = Annotated[AssessmentClient, Depends(get_assessment)]
Routes = Annotated[RoutesClient, Depends(get_routes)]
Registry = Annotated[RegistryClient, Depends(get_registry)]
Sources = Annotated[SummarySources, Depends(get_summary_sources)]
