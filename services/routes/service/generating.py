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
            "Укажите либо педагога, либо кампанию оценки",
            errors=[FieldError(loc=["body"], code="one-of", message="Нужно ровно одно: педагог или кампания оценки")],
        )
    return {"teacher_id": str(body.teacher_id)} if body.teacher_id else {"campaign_id": str(body.campaign_id)}


async def _results(client: GatewayClient, filters: dict[str, str]) -> list[FeedItem]:
    try:
        return await AssessmentResults(client).changes(**filters)
    except UpstreamError as e:
        if e.status == 404:
            raise NotFound("Педагог или кампания оценки не найдены", code="not-found") from None
        raise UpstreamUnavailable(
            "Сервис оценки не ответил; повторите попытку позже", code="upstream-unavailable"
        ) from None


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
        raise NotFound("В вашей зоне доступа нет результатов этого педагога", code="not-found")
    today = datetime.now(UTC).date()
    await RouteRepository(session).lock_generation(wait=True)
    return await generate_routes(session, snaps, resource_map, today, principal, settings.max_result_age_days)
