"""Dependencies that hand the routers the service's settings, clients, route reader and the route a write names."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from kit.auth import CurrentPrincipal
from kit.client import GatewayClient
from kit.db import DbSession
from kit.versioning import require_if_match
from services.routes.clients import Reservations, ResourceMapClient
from services.routes.config import RoutesSettings
from services.routes.reader import RouteReader
from services.routes.service.route_access import Change


def get_settings(request: Request) -> RoutesSettings:
    settings: RoutesSettings = request.app.state.settings
    return settings


def get_gateway_client(request: Request) -> GatewayClient:
    client: GatewayClient = request.app.state.gateway_client
    return client


def get_resource_map(request: Request) -> ResourceMapClient:
    resource_map: ResourceMapClient = request.app.state.resource_map
    return resource_map


def get_route_reader(request: Request) -> RouteReader:
    reader: RouteReader = request.app.state.route_reader
    return reader


Settings = Annotated[RoutesSettings, Depends(get_settings)]
Gateway = Annotated[GatewayClient, Depends(get_gateway_client)]
ResourceMap = Annotated[ResourceMapClient, Depends(get_resource_map)]
Reader = Annotated[RouteReader, Depends(get_route_reader)]


async def route_for_change(
    route_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    gateway: Gateway,
    if_match: str | None = Header(default=None, description="The ETag you read (428 without, 412 when stale)"),
) -> Change:
    """The route a write names, in the caller's scope, locked at the version of the caller's If-Match (with the
    resources service's reservations, for the seats of the forms its tasks choose)."""
    return await Change.of(session, principal, route_id, require_if_match(if_match), Reservations(gateway))


RouteForChange = Annotated[Change, Depends(route_for_change)]
