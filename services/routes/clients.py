"""What the routes service needs from the others, over HTTP through the gateway."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from cachetools import TTLCache
from pydantic import BaseModel, BeforeValidator, ConfigDict

from kit.client import GatewayClient, UpstreamError
from kit.errors import UpstreamUnavailable
from services.routes.directory import Directory
from services.routes.generation import Alternative, CompetencyResult, MentorChoice, Snapshot
from services.routes.labels import TIER_RU
from services.routes.pipeline import MatchContext, Mentee

log = logging.getLogger("routes.clients")
FEED_PATH = "/api/v1/assessment/changes"
STATUSES = frozenset({"deficit", "growth", "strength"})  # a competency's band; any other reads as growth


class Upstream(BaseModel):
    """An answer of another service, read leniently: unknown fields ignored, only what we use is checked."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


def _none_if_empty(value: Any) -> Any:
    return value or None


OptionalDate = Annotated[date | None, BeforeValidator(_none_if_empty)]
Number = float | int  # kept as sent (an int stays an int in the stored content)


class ItemScore(Upstream):
    item: Any = None
    points: Number = 0
    max_points: Number = 0


class CompetencyScore(Upstream):
    competency: str
    name: str | None = None
    percent: float = 0
    band: str | None = None
    area: str | None = None
    threshold: Any = None
    explanation: Any = None
    items: list[ItemScore] = []
    skills: list[Any] | None = None

    def result(self) -> CompetencyResult:
        missed = [
            {"item": i.item, "points": i.points, "max": i.max_points} for i in self.items if i.points < i.max_points
        ]
        if self.skills:
            for i, skill in zip(missed, self.skills, strict=False):
                i["skill"] = skill
        return CompetencyResult(
            code=self.competency,
            name=self.name or self.competency,
            percent=self.percent,
            status=self.band if self.band in STATUSES else "growth",
            area=self.area or "",
            explanation={"threshold": f"{self.threshold}%", "items": missed, "text": self.explanation},
        )


class FeedItem(Upstream):
    """A stored or changed result as the assessment change feed gives it (GET /assessment/changes)."""

    teacher_id: str
    region: str
    municipality: str
    organisation: str
    subject: str | None = None
    group: int
    assessed_on: date
    competencies: list[CompetencyScore] = []
    full_name: str | None = None
    external_id: str | None = None
    position: str | None = None
    experience_years: int | None = None
    qualification_category: str | None = None
    campaign_id: str | None = None
    result_id: str | None = None
    result_version: int = 1
    percent: Number | None = None
    framework_code: str | None = None
    framework_version: int | str | None = None

    def snapshot(self) -> Snapshot:
        """What generation needs to know of this result."""
        return Snapshot(
            teacher_id=self.teacher_id,
            region=self.region,
            municipality=self.municipality,
            organisation=self.organisation,
            subject=self.subject,
            group=self.group,
            assessed_on=self.assessed_on,
            competencies=tuple(c.result() for c in self.competencies),
            full_name=self.full_name or "",
            external_id=self.external_id or "",
            position=self.position or "",
            experience_years=self.experience_years,
            qualification_category=self.qualification_category,
            campaign_id=str(self.campaign_id),
            result_id=str(self.result_id),
            result_version=self.result_version,
            total_percent=self.percent,
            framework_version=f"{self.framework_code} v{self.framework_version}",
        )


class FeedPage(Upstream):
    # Items stay raw here: they are read in slices between other work (see FeedConsumer._read_page).
    items: list[dict[str, Any]] = []
    next_cursor: str | None = None
    has_more: bool = False


def snapshot_from_change(item: dict[str, Any]) -> Snapshot:
    """Turn an assessment change-feed item into what generation needs."""
    return FeedItem.model_validate(item).snapshot()


class AssessmentFeed:
    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    async def page(self, after: str | None, limit: int, **filters: str) -> FeedPage:
        params: dict[str, Any] = {"limit": limit, **filters}
        if after:
            params["after"] = after
        return FeedPage.model_validate(await self.client.json("GET", FEED_PATH, params=params))


class Reason(Upstream):
    code: str | None = None
    text: str | None = None
    reason: str | None = None


# The matcher's reason codes that say whether a resource is recommended for the teacher's group.
LEVEL_FIT_CODES = {"level-fit": True, "level-any": False}


class AlternativeOffer(Upstream):
    """A form of work the resource map offers for a deficit (POST /matching/batch)."""

    resource_id: str | None = None
    id: str | None = None
    kind: str = ""
    title: str = ""
    learning_type: str = "formal"
    mode: str = "online"
    starts_on: OptionalDate = None
    ends_on: OptionalDate = None
    hours: int | None = None
    provider: str | None = None
    reasons: list[str | Reason] | None = None
    reason: str | None = None
    explanation: str | None = None
    score: float = 0.0
    municipalities: list[str] = []
    free: int | None = None

    def alternative(self) -> Alternative:
        if self.reasons is not None:
            why = "; ".join(r if isinstance(r, str) else str(r.text or r.reason or "") for r in self.reasons)
        else:
            why = str(self.reason or self.explanation or "")
        return Alternative(
            resource_id=str(self.resource_id or self.id),
            kind=self.kind,
            title=self.title,
            learning_type=self.learning_type,
            mode=self.mode,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            hours=self.hours,
            provider=self.provider,
            reason=why,
            score=self.score,
            municipalities=tuple(self.municipalities),
            free=self.free,
            level_fit=next(
                (
                    LEVEL_FIT_CODES[r.code]
                    for r in self.reasons or ()
                    if isinstance(r, Reason) and r.code in LEVEL_FIT_CODES
                ),
                None,
            ),
        )


class DeficitOffers(Upstream):
    competency: str
    alternatives: list[AlternativeOffer] = []


class QueryAnswer(Upstream):
    deficits: list[DeficitOffers] = []


class MatchAnswer(Upstream):
    results: list[QueryAnswer] = []


class Assignment(Upstream):
    teacher_id: str
    mentor_teacher_id: str
    mentor_id: str
    tier: str | None = None


class Unserved(Upstream):
    teacher_id: str
    message: str | None = None
    reason: str | None = None


class AssignmentAnswer(Upstream):
    """The stored mentor assignment (POST /mentors/assignments)."""

    assignments: list[Assignment] = []
    unserved: list[Unserved] = []


class Teacher(Upstream):
    """A teacher of the registry (GET /teachers/{id}): what routes show of them."""

    id: str | None = None
    full_name: str | None = None
    position: str | None = None
    qualification_category: str | None = None
    experience_years: int | None = None
    region: str | None = None


# Matching answers and mentors' names kept per process, by count: as many for a country as for a region.
MATCH_CACHE_ENTRIES = 4096
NAME_CACHE_ENTRIES = 20_000
NOT_KEPT = object()  # what the names cache answers for a mentor it does not hold (a kept name may be None)


class ResourceMapClient:
    """Matching and mentor assignment of the resource map (resources service). Answers are kept for `ttl`
    seconds per matching context (the last MATCH_CACHE_ENTRIES used): teachers of one municipality, group and
    subject with the same deficits share them; the catalogue changes far more slowly than a generation run."""

    def __init__(
        self, client: GatewayClient, ttl: float = 60.0, concurrency: int = 8, directory: Directory | None = None
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.directory = directory or Directory(client)
        self._cache: TTLCache[MatchContext, dict[str, list[Alternative]]] = TTLCache(MATCH_CACHE_ENTRIES, ttl)
        self._names: TTLCache[str, str | None] = TTLCache(NAME_CACHE_ENTRIES, ttl)  # mentor's teacher id -> name
        self._limit = asyncio.Semaphore(concurrency)

    async def alternatives(self, contexts: Sequence[MatchContext]) -> dict[MatchContext, dict[str, list[Alternative]]]:
        out: dict[MatchContext, dict[str, list[Alternative]]] = {}
        for ctx in contexts:
            hit = self._cache.get(ctx)
            if hit is not None:
                out[ctx] = hit
        missing = [c for c in contexts if c not in out]
        fresh = await self._match(missing)
        if self.ttl > 0:
            self._cache.update(fresh)
        out.update(fresh)
        return out

    async def _match(self, contexts: Sequence[MatchContext]) -> dict[MatchContext, dict[str, list[Alternative]]]:
        """One batch call per 1,000 queries (the resource map matches them against one catalogue snapshot).

        A deficit's alternatives depend on the teacher's other deficits as a set, not on their order, so
        teachers with the same deficits listed in another order (weakest first) share one query."""
        out: dict[MatchContext, dict[str, list[Alternative]]] = {c: {} for c in contexts if not c.deficits}
        sharing: dict[MatchContext, list[MatchContext]] = {}
        for c in contexts:
            if c.deficits:
                sharing.setdefault(replace(c, deficits=tuple(sorted(c.deficits))), []).append(c)
        # The resource map is per region: ask in each teacher's region, 1,000 queries a call.
        chunks: list[list[MatchContext]] = []
        for region in sorted({q.region for q in sharing}):
            mine = [q for q in sharing if q.region == region]
            chunks += [mine[i : i + 1000] for i in range(0, len(mine), 1000)]
        for chunk in chunks:
            body = {
                "queries": [
                    {
                        "deficits": list(q.deficits),
                        "subject": q.subject,
                        "group": q.group,
                        "municipality": q.municipality,
                        "period": {"start": q.period_start.isoformat(), "end": q.period_end.isoformat()},
                    }
                    for q in chunk
                ]
            }
            try:
                answer = await self.client.json("POST", "/api/v1/matching/batch", json=body, region=chunk[0].region)
            except UpstreamError as e:
                # The resource map cannot answer now: generate without forms rather than stall the
                # feed; these drafts get forms when regenerated (next result or on request).
                log.warning("matching refused", extra={"status": e.status})
                out.update({c: {} for q in chunk for c in sharing[q]})
                continue
            for q, result in zip(chunk, MatchAnswer.model_validate(answer).results, strict=False):
                found = {d.competency: [x.alternative() for x in d.alternatives] for d in result.deficits}
                out.update({c: found for c in sharing[q]})
        return out

    async def mentors(self, mentees: Sequence[Mentee]) -> dict[str, MentorChoice]:
        """Assign mentors in each mentee's region (stored; the key makes a retried page replay the same answer)."""
        out: dict[str, MentorChoice] = {}
        for region in sorted({m.region for m in mentees}):
            out.update(await self._assign(region, [m for m in mentees if m.region == region]))
        return out

    async def _assign(self, region: str, mentees: Sequence[Mentee]) -> dict[str, MentorChoice]:
        with_subject = [m for m in mentees if m.subject]
        out = {
            m.teacher_id: MentorChoice(None, None, "предмет не указан: наставник подбирается вручную")
            for m in mentees
            if not m.subject
        }
        if not with_subject:
            return out
        body = {
            "mentees": [
                {
                    "teacher_id": m.teacher_id,
                    "subject": m.subject,
                    "municipality": m.municipality,
                    "group": m.group,
                    "deficits": list(m.deficits),
                }
                for m in with_subject
            ],
            "apply": True,
        }
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        try:
            answer = await self.client.json(
                "POST",
                "/api/v1/mentors/assignments",
                json=body,
                headers={"Idempotency-Key": f"routes-{key}"},
                region=region,
            )
        except UpstreamError as e:
            log.warning("mentor assignment refused", extra={"status": e.status})
            return {
                **out,
                **{m.teacher_id: MentorChoice(None, None, "подбор наставника недоступен") for m in with_subject},
            }
        assigned = AssignmentAnswer.model_validate(answer)
        names = await self._mentor_names(region, {a.mentor_teacher_id for a in assigned.assignments})
        for a in assigned.assignments:
            tier = TIER_RU.get(str(a.tier), str(a.tier))
            label = names.get(a.mentor_teacher_id) or f"наставник ({tier})"
            out[a.teacher_id] = MentorChoice(a.mentor_id, label, f"подбор по региону: {tier}")
        for u in assigned.unserved:
            out[u.teacher_id] = MentorChoice(None, None, str(u.message or u.reason))
        return out

    async def _mentor_names(self, region: str, teacher_ids: set[str]) -> dict[str, str | None]:
        """Mentors' full names from the teacher registry (kept for `ttl`), so the mentee, the school and the
        municipal export know whom to contact; None for a mentor the registry does not hold."""
        kept = {t: self._names.get(t, NOT_KEPT) for t in teacher_ids}  # one look each: an entry may expire between two
        names: dict[str, str | None] = {t: name for t, name in kept.items() if isinstance(name, str | None)}

        async def one(teacher_id: str) -> None:
            try:
                teacher = await read_teacher(self.client, self._limit, teacher_id, region=region)
                name = teacher.full_name or None
            except UpstreamError:
                name = None
            names[teacher_id] = name
            if self.ttl > 0:
                self._names[teacher_id] = name

        await asyncio.gather(*(one(t) for t in sorted(teacher_ids - names.keys())))
        return names


async def read_teacher(
    client: GatewayClient, limit: asyncio.Semaphore, teacher_id: str, *, region: str | None = None
) -> Teacher:
    """A teacher of the registry (GET /teachers/{id}), at most `limit` such reads at a time."""
    async with limit:
        return Teacher.model_validate(await client.json("GET", f"/api/v1/teachers/{teacher_id}", region=region))


class CampaignRef(Upstream):
    id: str
    assessed_on: date
    subject: str | None = None


class FrameworkRef(Upstream):
    code: str
    version: int | str


class Result(Upstream):
    """A stored result (GET /results): what a feed item needs of it."""

    id: str
    version: int
    teacher_id: str
    external_id: str
    municipality: str
    organisation: str
    campaign: CampaignRef
    framework: FrameworkRef
    percent: Number
    group: int
    competencies: list[CompetencyScore]


class ResultPage(Upstream):
    items: list[Result] = []
    next_cursor: str | None = None


def change_from_result(result: Result, teacher: Teacher) -> FeedItem:
    """Shape a result (GET /results) plus its teacher (GET /teachers/{id}) like a feed item."""
    return FeedItem.model_validate(
        {
            "result_id": result.id,
            "result_version": result.version,
            "teacher_id": result.teacher_id,
            "external_id": result.external_id,
            "full_name": teacher.full_name,
            "position": teacher.position,
            "qualification_category": teacher.qualification_category,
            "experience_years": teacher.experience_years,
            "region": teacher.region,
            "municipality": result.municipality,
            "organisation": result.organisation,
            "campaign_id": result.campaign.id,
            "assessed_on": result.campaign.assessed_on,
            "subject": result.campaign.subject,
            "framework_code": result.framework.code,
            "framework_version": result.framework.version,
            "percent": result.percent,
            "group": result.group,
            "competencies": result.competencies,
        }
    )


class AssessmentResults:
    """Results of one teacher or one campaign, for generation on request."""

    def __init__(self, client: GatewayClient, concurrency: int = 8) -> None:
        self.client = client
        self.limit = asyncio.Semaphore(concurrency)

    async def changes(self, **filters: str) -> list[FeedItem]:
        """Every result matching the filters (teacher_id or campaign_id), as feed items."""
        items: list[FeedItem] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **filters}
            if cursor:
                params["cursor"] = cursor
            page = ResultPage.model_validate(await self.client.json("GET", "/api/v1/results", params=params))
            teachers = await asyncio.gather(
                *(read_teacher(self.client, self.limit, t) for t in {r.teacher_id for r in page.items})
            )
            by_id = {str(t.id): t for t in teachers}
            items.extend(change_from_result(r, by_id[r.teacher_id]) for r in page.items)
            cursor = page.next_cursor
            if not cursor:
                return items


# ------------------------------------------------------------ reservations of the chosen forms (resources service)

RESERVATIONS_PATH = "/api/v1/reservations"


class SeatAlternative(Upstream):
    """A resource with free seats the resources service offers instead of a full one."""

    resource_id: str
    kind: str = ""
    title: str = ""
    mode: str | None = None
    starts_on: OptionalDate = None
    ends_on: OptionalDate = None
    free: int | None = None


class ReservationRef(Upstream):
    """A reservation as GET /reservations lists it: what the routes service needs to release it."""

    id: str
    resource_id: str | None = None
    mentor_id: str | None = None
    status: str


class ReservationsPage(Upstream):
    items: list[ReservationRef] = []
    next_cursor: str | None = None


class SeatsFull(Exception):
    """The resource has no free seat; `alternatives` are the resources service's suggestions."""

    def __init__(self, alternatives: list[SeatAlternative]) -> None:
        super().__init__("capacity-exhausted")
        self.alternatives = alternatives


class ReservationRefused(Exception):
    """The resources service refused (4xx): its code and Russian detail are passed on."""

    def __init__(self, status: int, code: str | None, detail: str | None) -> None:
        super().__init__(code or str(status))
        self.status = status
        self.code = code
        self.detail = detail


class Reservations:
    """Seats of the forms chosen for a route's tasks, reserved and released in the resources service with this
    service's own token, acting in the route's region. Reserving is idempotent there (route + resource: a
    repeat answers the same reservation), and the Idempotency-Key lets a lost answer be retried."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    async def _send(self, path: str, body: dict[str, str], key: str, region: str) -> None:
        try:
            await self.client.json("POST", path, json=body, headers={"Idempotency-Key": key}, region=region)
        except UpstreamError as e:
            if e.status >= 500:
                raise UpstreamUnavailable(
                    "Сервис ресурсов сейчас не может забронировать или освободить место; ничего не изменено",
                    code="resources-unavailable",
                ) from e
            code, detail = e.problem.get("code"), e.problem.get("detail")
            if e.status == 409 and code == "capacity-exhausted":
                raw = e.problem.get("alternatives") or []
                raise SeatsFull([SeatAlternative.model_validate(a) for a in raw if isinstance(a, dict)]) from e
            raise ReservationRefused(e.status, code, detail) from e

    async def reserve_seat(self, route_id: str, teacher_id: str, resource_id: str, region: str) -> None:
        """A seat of the resource for the route's teacher (SeatsFull, ReservationRefused, 503 when unavailable)."""
        body = {"route_id": route_id, "teacher_id": teacher_id, "resource_id": resource_id}
        await self._send(RESERVATIONS_PATH, body, f"routes-seat-{route_id}-{resource_id}", region)

    async def release_seat(self, route_id: str, resource_id: str, region: str) -> None:
        """Give the seat back (idempotent; a seat never reserved is nothing to release)."""
        body = {"route_id": route_id, "resource_id": resource_id}
        try:
            await self._send(f"{RESERVATIONS_PATH}/release", body, f"routes-release-{route_id}-{resource_id}", region)
        except ReservationRefused as e:
            if e.status != 404:
                raise

    async def held_seats(self, route_id: str, region: str) -> list[str]:
        """Resources whose seats the route holds now (active reservations of resources, not mentor slots)."""
        out: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"route_id": route_id, "status": "active", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            try:
                answer = await self.client.json("GET", RESERVATIONS_PATH, params=params, region=region)
            except UpstreamError as e:
                if e.status == 404:
                    return out
                raise UpstreamUnavailable(
                    "Сервис ресурсов сейчас не отвечает о бронированиях маршрута; ничего не изменено",
                    code="resources-unavailable",
                ) from e
            page = ReservationsPage.model_validate(answer)
            out.extend(r.resource_id for r in page.items if r.resource_id and r.status == "active")
            cursor = page.next_cursor
            if not cursor:
                return out
