"""Typed calls to the other services (through the gateway, with this service's own token)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kit.client import GatewayClient, UpstreamError
from kit.errors import AppError

log = logging.getLogger("resources.clients")

# The assessment service's analytics of deficits (issue 3). Expected answer, one row per
# municipality and subject: {"items": [{"municipality": "mo-01", "subject": "mathematics",
# "teachers": 42}, ...]} (a bare list of such rows is accepted too); `teachers` counts teachers with
# at least one deficit in that subject's assessments; asked in the caller's region.
DEFICIT_DEMAND_PATH = "/api/v1/assessment/analytics/deficit-demand"
MUNICIPALITIES_PATH = "/api/v1/municipalities"
# The routes service's route (GET /routes/{id}): whose it is and where, read with this service's own token.
ROUTE_PATH = "/api/v1/routes/{route_id}"


class DemandItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    municipality: str = Field(min_length=1, max_length=32)
    subject: str = Field(min_length=1, max_length=32)
    teachers: int = Field(ge=0)


class MunicipalityItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str
    region: str | None = None


class RouteRef(BaseModel):
    """What a reservation takes from its route: the teacher and their scope (never from the body)."""

    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    teacher_id: uuid.UUID
    region: str = Field(min_length=1, max_length=64)
    municipality: str = Field(min_length=1, max_length=32)
    organisation: str = Field(min_length=1, max_length=32)
    status: str


class ItemsPage(BaseModel):
    """A listing answer: `{"items": [...]}` (other keys, e.g. a cursor, are not needed here)."""

    model_config = ConfigDict(extra="ignore")
    items: list[Any]


# A listing as the other services answer it: a page of items, or a bare list of them.
LISTING = TypeAdapter(ItemsPage | list[Any])
DEMAND_ROWS = TypeAdapter(list[DemandItem])
MUNICIPALITY_ROWS = TypeAdapter(list[MunicipalityItem])


class Unavailable(Exception):
    """The other service could not give the data; the message says why (no personal data)."""


def listing_items(body: Any) -> list[Any]:
    try:
        listing = LISTING.validate_python(body)
    except ValidationError as e:
        raise Unavailable("unexpected answer shape") from e
    return listing.items if isinstance(listing, ItemsPage) else listing


class AssessmentClient:
    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def deficit_demand(self, region: str | None) -> dict[tuple[str, str], int]:
        """Teachers with deficits per (municipality, subject), or Unavailable."""
        try:
            # Acting in the region (a service token narrowed to it) scopes the answer to it.
            body = await self.gateway.json("GET", DEFICIT_DEMAND_PATH, retries=1, region=region)
        except UpstreamError as e:
            raise Unavailable(f"the assessment service answered {e.status}") from e
        except AppError as e:
            raise Unavailable("the assessment service is unavailable") from e
        try:
            rows = DEMAND_ROWS.validate_python(listing_items(body))
        except ValidationError as e:
            raise Unavailable("the assessment service answered rows of an unexpected shape") from e
        out: dict[tuple[str, str], int] = {}
        for r in rows:
            out[(r.municipality, r.subject)] = out.get((r.municipality, r.subject), 0) + r.teachers
        return out

    async def municipalities(self, region: str | None) -> list[str]:
        """Codes of the region's municipalities (empty when the directory cannot be read)."""
        try:
            body = await self.gateway.json("GET", MUNICIPALITIES_PATH, retries=1)
            rows = MUNICIPALITY_ROWS.validate_python(listing_items(body))
        except (UpstreamError, AppError, ValidationError, Unavailable) as e:
            log.warning("municipality directory unavailable", extra={"reason": type(e).__name__})
            return []
        return sorted(r.code for r in rows if region is None or r.region in (None, region))


class RoutesClient:
    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def route(self, route_id: uuid.UUID, region: str | None) -> RouteRef | None:
        """The route (None when the routes service has none by that id in the region), or Unavailable."""
        try:
            # Acting in the caller's region: another region's route answers 404 like an absent one.
            body = await self.gateway.json("GET", ROUTE_PATH.format(route_id=route_id), retries=1, region=region)
        except UpstreamError as e:
            if e.status == 404:
                return None
            raise Unavailable(f"the routes service answered {e.status}") from e
        except AppError as e:
            raise Unavailable("the routes service is unavailable") from e
        try:
            return RouteRef.model_validate(body)
        except ValidationError as e:
            raise Unavailable("the routes service answered a route of an unexpected shape") from e
