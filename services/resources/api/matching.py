"""Matching: ranked, explained alternatives per deficit for one teacher or a batch of teachers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from services.resources.schemas import MatchBatchRequest, MatchBatchResponse, MatchRequest, MatchResponse
from services.resources.service import matching as service

router = APIRouter(prefix="/api/v1/matching", tags=["matching"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    response_model=MatchResponse,
    summary="Rank resources and mentors for a teacher's deficits, with an explanation per item",
    description=(
        "Only what the teacher can use is considered: tagged with the deficit, for the subject (or "
        "cross-subject), suited to the group, held in the municipality, region-wide or online, overlapping "
        "the period, with free capacity; mentors of the subject above the teacher's level, in the "
        "municipality, a neighbouring one, or working online. Each deficit gets `alternatives` resources "
        "(the best of each learning type first, so that formal, non-formal and informal learning mix) and "
        "`mentor_alternatives` mentors; every item's score is the sum of its `reasons` points."
    ),
)
async def match_resources(body: MatchRequest, principal: CurrentPrincipal, session: DbSession) -> Response:
    return Response(await service.match_resources(session, principal, body), media_type="application/json")


@router.post(
    "/batch",
    response_model=MatchBatchResponse,
    summary="Match up to 1,000 teachers against one snapshot of the catalogue (route generation)",
)
async def match_resources_batch(body: MatchBatchRequest, principal: CurrentPrincipal, session: DbSession) -> Response:
    return Response(await service.match_resources_batch(session, principal, body), media_type="application/json")
