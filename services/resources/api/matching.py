"""Matching: ranked, explained alternatives per deficit for one teacher or a batch of teachers."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import problem_responses
from kit.jsonutil import dumps
from services.resources import matching
from services.resources.api.common import mentor_offer_of, offer_of
from services.resources.assignment import neighbour_map
from services.resources.repository import MentorRepository, NeighbourRepository, ResourceRepository
from services.resources.schemas import MatchBatchRequest, MatchBatchResponse, MatchRequest, MatchResponse
from services.resources.vocab import MENTOR_ROLE_LABELS_RU, SUBJECT_LABELS_RU

router = APIRouter(prefix="/api/v1/matching", tags=["matching"], responses=problem_responses(401, 403, 422))


def query_of(body: MatchRequest, principal: Principal, neighbours: dict[str, frozenset[str]]) -> matching.MatchQuery:
    teacher_id = principal.teacher_id if principal.role == Role.teacher else None
    if teacher_id is None and body.teacher_id is not None:
        teacher_id = str(body.teacher_id)
    return matching.MatchQuery(
        deficits=tuple(body.deficits),
        group=body.group,
        municipality=body.municipality,
        subject=body.subject.value if body.subject else None,
        period_start=body.period.start if body.period else None,
        period_end=body.period.end if body.period else None,
        modes=frozenset(m.value for m in body.preferences.modes),
        learning_types=frozenset(t.value for t in body.preferences.learning_types),
        kinds=frozenset(k.value for k in body.preferences.kinds),
        strict=body.preferences.strict,
        alternatives=body.alternatives,
        mentor_alternatives=body.mentor_alternatives,
        teacher_id=teacher_id,
        neighbours=neighbours.get(body.municipality, frozenset()),
    )


def _alternative(a: matching.Alternative, q: matching.MatchQuery) -> dict[str, Any]:
    item = a.item
    common = {
        "rank": a.rank,
        "item_type": a.item_type,
        "id": item.id,
        "learning_type": a.learning_type,
        "mode": item.mode,
        "free": item.free,
        "score": a.score / 100,
        "covers": list(a.covers),
        "chosen_for_mix": a.chosen_for_mix,
        "rank_note": a.rank_note,
        "reasons": [{"code": r.code, "points": r.points / 100, "text": r.text} for r in a.reasons],
    }
    if isinstance(item, matching.Offer):
        return {
            **common,
            "kind": item.kind,
            "title": item.title,
            "municipalities": sorted(item.municipalities),
            "starts_on": item.starts_on,
            "ends_on": item.ends_on,
        }
    subject = SUBJECT_LABELS_RU.get(q.subject or "", q.subject or "")
    return {
        **common,
        "kind": item.role,
        "title": f"{MENTOR_ROLE_LABELS_RU.get(item.role, item.role)}: {subject}",
        "municipalities": [item.municipality],
        "mentor_teacher_id": item.teacher_id,
    }


def response_of(result: matching.MatchResult, q: matching.MatchQuery) -> dict[str, Any]:
    return {
        "deficits": [
            {
                "competency": d.competency,
                "gap": d.gap,
                "alternatives": [_alternative(a, q) for a in d.alternatives],
                "mentors": [_alternative(a, q) for a in d.mentors],
            }
            for d in result.deficits
        ],
        "learning_type_mix": result.mix(),
    }


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
    region = principal.region
    neighbours = neighbour_map(await NeighbourRepository(session).pairs(region))
    q = query_of(body, principal, neighbours)
    rows = await ResourceRepository(session).match_candidates(
        region,
        deficits=q.deficits,
        subject=q.subject,
        group=q.group,
        municipality=q.municipality,
        start=q.period_start,
        end=q.period_end,
        kinds=sorted(q.kinds),
    )
    mentor_rows = await MentorRepository(session).active_for_matching(region, q.subject) if q.subject else []
    result = matching.match(q, [offer_of(r) for r in rows], [mentor_offer_of(m) for m in mentor_rows])
    # Built from typed dataclasses in the documented shape; serialised directly (no second validation pass).
    return Response(dumps(response_of(result, q)), media_type="application/json")


@router.post(
    "/batch",
    response_model=MatchBatchResponse,
    summary="Match up to 1,000 teachers against one snapshot of the catalogue (route generation)",
)
async def match_resources_batch(body: MatchBatchRequest, principal: CurrentPrincipal, session: DbSession) -> Response:
    region = principal.region
    neighbours = neighbour_map(await NeighbourRepository(session).pairs(region))
    offers = [offer_of(r) for r in await ResourceRepository(session).snapshot(region)]
    mentors = [mentor_offer_of(m) for m in await MentorRepository(session).active_for_matching(region, None)]
    queries = [query_of(b, principal, neighbours) for b in body.queries]

    def run() -> bytes:
        index = matching.CatalogueIndex(offers, mentors)
        return dumps({"results": [response_of(index.match(q), q) for q in queries]})

    # CPU-bound: keep the event loop answering other requests meanwhile.
    return Response(await asyncio.to_thread(run), media_type="application/json")
