"""Matching: ranked, explained alternatives per deficit for one teacher or a batch of teachers.

Answers are built from typed dataclasses in the documented shape and serialised directly (no second
validation pass), so these functions return JSON bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from kit.jsonutil import dumps
from services.resources import matching
from services.resources.catalogue_index import CatalogueIndex
from services.resources.reach import neighbour_map
from services.resources.repository import MentorRepository, NeighbourRepository, ResourceRepository
from services.resources.schemas import MatchBatchRequest, MatchRequest
from services.resources.vocab import MENTOR_ROLE_LABELS_RU, SUBJECT_LABELS_RU


def offer_of(row: Any) -> matching.Offer:
    return matching.Offer(
        id=str(row["id"]),
        kind=row["kind"],
        title=row["title"],
        competencies=frozenset(row["competencies"]),
        subjects=frozenset(row["subjects"]),
        levels=frozenset(row["levels"]),
        learning_type=row["learning_type"],
        mode=row["mode"],
        municipalities=frozenset(row["municipalities"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        free=None if row["capacity"] is None else row["capacity"] - row["reserved"],
        federal_registry=row["federal_registry"],
        hours=row["hours"],
        owner_teacher_id=str(row["owner_teacher_id"]) if row["owner_teacher_id"] else None,
    )


def mentor_offer_of(row: Any) -> matching.MentorOffer:
    return matching.MentorOffer(
        id=str(row["id"]),
        teacher_id=str(row["teacher_id"]),
        role=row["role"],
        municipality=row["municipality"],
        subjects=frozenset(row["subjects"]),
        competencies=frozenset(row["competencies"]),
        level=row["level"],
        mode=row["mode"],
        free=row["capacity"] - row["load"],
    )


def query_of(body: MatchRequest, principal: Principal, neighbours: dict[str, frozenset[str]]) -> matching.MatchQuery:
    """The matcher's query; a teacher always matches for themselves."""
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


async def match_resources(session: AsyncSession, principal: Principal, body: MatchRequest) -> bytes:
    """Match one teacher against candidates the SQL already narrowed."""
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
    return dumps(response_of(result, q))


async def match_resources_batch(session: AsyncSession, principal: Principal, body: MatchBatchRequest) -> bytes:
    """Match many teachers against one snapshot of the catalogue."""
    region = principal.region
    neighbours = neighbour_map(await NeighbourRepository(session).pairs(region))
    offers = [offer_of(r) for r in await ResourceRepository(session).snapshot(region)]
    mentors = [mentor_offer_of(m) for m in await MentorRepository(session).active_for_matching(region, None)]
    queries = [query_of(b, principal, neighbours) for b in body.queries]

    def run() -> bytes:
        index = CatalogueIndex(offers, mentors)
        return dumps({"results": [response_of(index.match(q), q) for q in queries]})

    # CPU-bound: keep the event loop answering other requests meanwhile.
    return await asyncio.to_thread(run)
