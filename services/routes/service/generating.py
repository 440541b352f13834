"""Generating routes on request, for one teacher or a whole campaign (the feed does it on its own too)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.client import GatewayClient, UpstreamError
from kit.errors import FieldError, NotFound, UpstreamUnavailable, ValidationFailed
from services.routes.clients import AssessmentResults, FeedItem
from services.routes.config import RoutesSettings
from services.routes.pipeline import Outcome, ResourceMap, generate_routes
from services.routes.repository import RouteRepository
from services.routes.schemas import GenerateRequest


def _filters(body: GenerateRequest) -> dict[str, str]:
    if (body.teacher_id is None) == (body.campaign_id is None):
        raise ValidationFailed(
            "give either teacher_id or campaign_id",
            errors=[FieldError(loc=["body"], code="one-of", message="exactly one of teacher_id, campaign_id")],
        )
    return {"teacher_id": str(body.teacher_id)} if body.teacher_id else {"campaign_id": str(body.campaign_id)}


async def _results(client: GatewayClient, filters: dict[str, str]) -> list[FeedItem]:
    try:
        return await AssessmentResults(client).changes(**filters)
    except UpstreamError as e:
        if e.status == 404:
            raise NotFound("teacher or campaign not found", code="not-found") from None
        raise UpstreamUnavailable("the assessment service did not answer", code="upstream-unavailable") from None


async def generate_now(
    session: AsyncSession,
    principal: Principal,
    body: GenerateRequest,
    client: GatewayClient,
    resource_map: ResourceMap,
    settings: RoutesSettings,
) -> Outcome:
    """Generate the routes of the teacher's or the campaign's results in the caller's scope, now."""
    items = await _results(client, _filters(body))
    snaps = [i.snapshot() for i in items]
    snaps = [
        s for s in snaps if principal.sees(region=s.region, municipality=s.municipality, organisation=s.organisation)
    ]
    if body.teacher_id and not snaps:
        raise NotFound("no results of this teacher in your scope", code="not-found")
    today = datetime.now(UTC).date()
    await RouteRepository(session).lock_generation(wait=True)
    return await generate_routes(session, snaps, resource_map, today, principal, settings.max_result_age_days)
