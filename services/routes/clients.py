"""What the routes service needs from the others, over HTTP through the gateway."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from kit.client import GatewayClient, UpstreamError
from services.routes.generation import Alternative, CompetencyResult, MentorChoice, Snapshot
from services.routes.pipeline import MatchContext, Mentee

log = logging.getLogger("routes.clients")
FEED_PATH = "/api/v1/assessment/changes"
TIER_RU = {"same_municipality": "тот же муниципалитет", "neighbouring": "соседний муниципалитет", "online": "онлайн"}
BAND_TO_STATUS = {"deficit": "deficit", "growth": "growth", "strength": "strength"}


def _competency(c: dict[str, Any]) -> CompetencyResult:
    items = [
        {"item": i.get("item"), "points": points, "max": top}
        for i in c.get("items", [])
        if float(points := i.get("points", 0)) < float(top := i.get("max_points", 0))
    ]
    skills = c.get("skills")
    if skills:
        for i, skill in zip(items, skills, strict=False):
            i["skill"] = skill
    return CompetencyResult(
        code=str(c["competency"]),
        name=str(c.get("name") or c["competency"]),
        percent=float(c.get("percent", 0)),
        status=BAND_TO_STATUS.get(str(c.get("band")), "growth"),
        area=str(c.get("area") or ""),
        explanation={"threshold": f"{c.get('threshold')}%", "items": items, "text": c.get("explanation")},
    )


def snapshot_from_change(item: dict[str, Any]) -> Snapshot:
    """Turn an assessment change-feed item into what generation needs."""
    return Snapshot(
        teacher_id=str(item["teacher_id"]),
        region=str(item["region"]),
        municipality=str(item["municipality"]),
        organisation=str(item["organisation"]),
        subject=item.get("subject"),
        group=int(item["group"]),
        assessed_on=date.fromisoformat(str(item["assessed_on"])),
        competencies=tuple(_competency(c) for c in item.get("competencies", [])),
        full_name=str(item.get("full_name") or ""),
        external_id=str(item.get("external_id") or ""),
        position=str(item.get("position") or ""),
        experience_years=item.get("experience_years"),
        qualification_category=item.get("qualification_category"),
        campaign_id=str(item.get("campaign_id")),
        result_id=str(item.get("result_id")),
        result_version=int(item.get("result_version", 1)),
        total_percent=item.get("percent"),
        framework_version=f"{item.get('framework_code')} v{item.get('framework_version')}",
    )


class AssessmentFeed:
    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    async def page(self, after: str | None, limit: int, **filters: str) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **filters}
        if after:
            params["after"] = after
        page: dict[str, Any] = await self.client.json("GET", FEED_PATH, params=params)
        return page


def _alternative(x: dict[str, Any]) -> Alternative:
    def d(v: Any) -> date | None:
        return date.fromisoformat(str(v)) if v else None

    return Alternative(
        resource_id=str(x.get("resource_id") or x.get("id")),
        kind=str(x.get("kind", "")),
        title=str(x.get("title", "")),
        learning_type=str(x.get("learning_type", "formal")),
        mode=str(x.get("mode", "online")),
        starts_on=d(x.get("starts_on")),
        ends_on=d(x.get("ends_on")),
        hours=x.get("hours"),
        provider=x.get("provider"),
        reason="; ".join(
            r if isinstance(r, str) else str(r.get("text") or r.get("reason") or "") for r in x.get("reasons", [])
        )
        if isinstance(x.get("reasons"), list)
        else str(x.get("reason") or x.get("explanation") or ""),
        score=float(x.get("score", 0.0)),
    )


class ResourceMapClient:
    """Matching and mentor assignment of the resource map (resources service).

    Answers are kept for `ttl` seconds per matching context: teachers of one municipality, group and
    subject with the same deficits share them, and the catalogue changes far more slowly than a
    generation run."""

    def __init__(self, client: GatewayClient, ttl: float = 60.0, concurrency: int = 8) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[MatchContext, tuple[float, dict[str, list[Alternative]]]] = {}
        self._names: dict[str, tuple[float, str | None]] = {}  # mentor's teacher id -> (until, full name)
        self._limit = asyncio.Semaphore(concurrency)

    async def alternatives(self, contexts: Sequence[MatchContext]) -> dict[MatchContext, dict[str, list[Alternative]]]:
        now = asyncio.get_running_loop().time()
        out: dict[MatchContext, dict[str, list[Alternative]]] = {}
        for ctx in contexts:
            hit = self._cache.get(ctx)
            if hit is not None and hit[0] > now:
                out[ctx] = hit[1]
        missing = [c for c in contexts if c not in out]
        fresh = await self._match(missing)
        if len(self._cache) > 50_000:
            self._cache.clear()
        for ctx, answer in fresh.items():
            self._cache[ctx] = (now + self.ttl, answer)
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
            for q, result in zip(chunk, answer.get("results", []), strict=False):
                found = {
                    str(d["competency"]): [_alternative(x) for x in d.get("alternatives", [])]
                    for d in result.get("deficits", [])
                }
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
        assignments = answer.get("assignments", [])
        names = await self._mentor_names(region, {str(a["mentor_teacher_id"]) for a in assignments})
        for a in assignments:
            tier = TIER_RU.get(str(a.get("tier")), str(a.get("tier")))
            label = names.get(str(a["mentor_teacher_id"])) or f"наставник ({tier})"
            out[str(a["teacher_id"])] = MentorChoice(str(a["mentor_id"]), label, f"подбор по региону: {tier}")
        for u in answer.get("unserved", []):
            out[str(u["teacher_id"])] = MentorChoice(None, None, str(u.get("message") or u.get("reason")))
        return out

    async def _mentor_names(self, region: str, teacher_ids: set[str]) -> dict[str, str | None]:
        """Mentors' full names from the teacher registry (kept for `ttl`), so the mentee, the school and the
        municipal export know whom to contact; None for a mentor the registry does not hold."""
        now = asyncio.get_running_loop().time()
        if len(self._names) > 100_000:
            self._names.clear()
        missing = [t for t in sorted(teacher_ids) if (hit := self._names.get(t)) is None or hit[0] <= now]

        async def one(teacher_id: str) -> None:
            try:
                teacher = await read_teacher(self.client, self._limit, teacher_id, region=region)
                name = str(teacher.get("full_name") or "") or None
            except UpstreamError:
                name = None
            self._names[teacher_id] = (now + self.ttl, name)

        await asyncio.gather(*(one(t) for t in missing))
        return {t: hit[1] for t in teacher_ids if (hit := self._names.get(t)) is not None}


async def read_teacher(
    client: GatewayClient, limit: asyncio.Semaphore, teacher_id: str, *, region: str | None = None
) -> dict[str, Any]:
    """A teacher of the registry (GET /teachers/{id}), at most `limit` such reads at a time."""
    async with limit:
        teacher: dict[str, Any] = await client.json("GET", f"/api/v1/teachers/{teacher_id}", region=region)
        return teacher


def change_from_result(result: dict[str, Any], teacher: dict[str, Any]) -> dict[str, Any]:
    """Shape a result (GET /results) plus its teacher (GET /teachers/{id}) like a feed item."""
    campaign = result["campaign"]
    framework = result["framework"]
    return {
        "result_id": result["id"],
        "result_version": result["version"],
        "teacher_id": result["teacher_id"],
        "external_id": result["external_id"],
        "full_name": teacher.get("full_name"),
        "position": teacher.get("position"),
        "qualification_category": teacher.get("qualification_category"),
        "experience_years": teacher.get("experience_years"),
        "region": teacher["region"],
        "municipality": result["municipality"],
        "organisation": result["organisation"],
        "campaign_id": campaign["id"],
        "assessed_on": campaign["assessed_on"],
        "subject": campaign["subject"],
        "framework_code": framework["code"],
        "framework_version": framework["version"],
        "percent": result["percent"],
        "group": result["group"],
        "competencies": result["competencies"],
    }


class AssessmentResults:
    """Results of one teacher or one campaign, for generation on request."""

    def __init__(self, client: GatewayClient, concurrency: int = 8) -> None:
        self.client = client
        self.limit = asyncio.Semaphore(concurrency)

    async def changes(self, **filters: str) -> list[dict[str, Any]]:
        """Every result matching the filters (teacher_id or campaign_id), as feed-shaped items."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **filters}
            if cursor:
                params["cursor"] = cursor
            page = await self.client.json("GET", "/api/v1/results", params=params)
            results = page.get("items", [])
            teachers = await asyncio.gather(
                *(read_teacher(self.client, self.limit, str(t)) for t in {r["teacher_id"] for r in results})
            )
            by_id = {str(t["id"]): t for t in teachers}
            items.extend(change_from_result(r, by_id[str(r["teacher_id"])]) for r in results)
            cursor = page.get("next_cursor")
            if not cursor:
                return items
