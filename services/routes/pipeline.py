"""Generate routes for many teachers at once: one matching call per distinct context, pure
generation, then one write per batch. Idempotent: route ids are derived from (teacher, period)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.routes.content import apply_overrides, next_control_on
from services.routes.generation import Alternative, MentorChoice, Snapshot, add_months, generate, period_key
from services.routes.repository import RouteRepository
from services.routes.rules import generation_rules
from services.routes.workflow import Status

ROUTE_NAMESPACE = uuid.UUID("6f1d2c1e-8a57-4d7e-9b0e-2f4a9c3d5e71")


def route_id_for(teacher_id: str, period: str) -> uuid.UUID:
    """The same teacher and period always give the same route id (safe retries, idempotent reservations)."""
    return uuid.uuid5(ROUTE_NAMESPACE, f"{teacher_id}/{period}")


@dataclass(frozen=True)
class MatchContext:
    """What matching depends on; teachers sharing it share the answer."""

    deficits: tuple[str, ...]
    subject: str | None
    group: int
    municipality: str
    period_start: date
    period_end: date
    region: str = ""


@dataclass(frozen=True)
class Mentee:
    route_id: uuid.UUID
    teacher_id: str
    subject: str | None
    municipality: str
    group: int
    deficits: tuple[str, ...] = ()
    region: str = ""


class ResourceMap(Protocol):
    async def alternatives(
        self, contexts: Sequence[MatchContext]
    ) -> dict[MatchContext, dict[str, list[Alternative]]]: ...

    async def mentors(self, mentees: Sequence[Mentee]) -> dict[str, MentorChoice]: ...


@dataclass
class Outcome:
    considered: int = 0
    created: int = 0
    regenerated: int = 0
    unchanged: int = 0
    outdated: int = 0
    timings: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "considered": self.considered,
            "created": self.created,
            "regenerated": self.regenerated,
            "unchanged": self.unchanged,
            "outdated": self.outdated,
        }


def context_of(s: Snapshot, today: date) -> MatchContext:
    months = int(generation_rules()["groups"][str(s.group)]["months"])
    start = max(today, s.assessed_on)
    return MatchContext(
        tuple(c.code for c in s.deficits()),
        s.subject,
        s.group,
        s.municipality,
        start,
        add_months(start, months),
        s.region,
    )


def _fingerprint(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def latest_per_route(snaps: Sequence[Snapshot]) -> dict[uuid.UUID, Snapshot]:
    """Several results of one teacher in one half-year: the latest (then the weakest group) drives the route."""
    chosen: dict[uuid.UUID, Snapshot] = {}
    for s in snaps:
        rid = route_id_for(s.teacher_id, period_key(s.assessed_on))
        cur = chosen.get(rid)
        if cur is None or (s.assessed_on, -s.group, s.result_version) > (
            cur.assessed_on,
            -cur.group,
            cur.result_version,
        ):
            chosen[rid] = s
    return chosen


async def generate_routes(
    session: AsyncSession,
    snaps: Sequence[Snapshot],
    resource_map: ResourceMap,
    today: date,
    actor: Principal,
    max_age_days: int | None = None,
) -> Outcome:
    """Create routes for new (teacher, period) pairs and regenerate drafts; leave routes under way alone.

    Results older than `max_age_days` (history loaded for dynamics) get no route."""
    out = Outcome(considered=len(snaps))
    if max_age_days is not None:
        fresh = [s for s in snaps if (today - s.assessed_on).days <= max_age_days]
        out.outdated = len(snaps) - len(fresh)
        snaps = fresh
    by_route = latest_per_route(snaps)
    repo = RouteRepository(session)
    existing = await repo.existing_for(
        [(uuid.UUID(s.teacher_id), period_key(s.assessed_on)) for s in by_route.values()]
    )
    pending: dict[uuid.UUID, tuple[Snapshot, dict[str, Any] | None]] = {}
    for rid, s in by_route.items():
        row = existing.get((uuid.UUID(s.teacher_id), period_key(s.assessed_on)))
        if row is not None and row["status"] != Status.draft:
            out.unchanged += 1  # under review or running: new results wait for the next period
            continue
        pending[rid] = (s, row)
    if not pending:
        return out
    t0 = time.perf_counter()
    contexts = {rid: context_of(s, today) for rid, (s, _) in pending.items()}
    alternatives = await resource_map.alternatives(sorted(set(contexts.values()), key=repr))
    out.timings["match_ms"] = round((time.perf_counter() - t0) * 1000)
    # A draft being regenerated keeps the mentor it already has; new group-1 routes get one assigned.
    mentors: dict[str, MentorChoice] = {}
    for _rid, (s, row) in pending.items():
        kept = ((row or {}).get("content") or {}).get("mentoring") or {}
        if kept.get("mentor_id"):
            mentors[s.teacher_id] = MentorChoice(
                str(kept["mentor_id"]), kept.get("label"), str(kept.get("reason") or "")
            )
    mentees = [
        Mentee(rid, s.teacher_id, s.subject, s.municipality, s.group, contexts[rid].deficits, s.region)
        for rid, (s, _) in pending.items()
        if generation_rules()["groups"][str(s.group)]["mentor"] == "required" and s.teacher_id not in mentors
    ]
    t0 = time.perf_counter()
    if mentees:
        mentors.update(await resource_map.mentors(mentees))
    out.timings["mentors_ms"] = round((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    inserts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for rid, (s, row) in pending.items():
        generated = generate(s, alternatives.get(contexts[rid], {}), mentors.get(s.teacher_id), today)
        source = {"result_id": s.result_id, "campaign_id": s.campaign_id, "version": s.result_version}
        if row is None:
            inserts.append(
                {
                    "id": rid,
                    "teacher_id": uuid.UUID(s.teacher_id),
                    "external_id": s.external_id,
                    "teacher_name": s.full_name,
                    "region": s.region,
                    "municipality": s.municipality,
                    "organisation": s.organisation,
                    "subject": s.subject,
                    "grp": s.group,
                    "period_key": period_key(s.assessed_on),
                    "period_start": date.fromisoformat(generated["period"]["start"]),
                    "period_end": date.fromisoformat(generated["period"]["end"]),
                    "content": generated,
                    "sources": [source],
                    "mentor_id": (generated.get("mentoring") or {}).get("mentor_id"),
                    "next_control_on": next_control_on(generated),
                }
            )
            events.append(
                {
                    "route_id": rid,
                    "actor": actor.sub,
                    "actor_role": actor.role.value,
                    "action": "generated",
                    "to_status": Status.draft.value,
                    "comment": f"по результатам кампании {s.campaign_id}",
                    "content_version": 1,
                }
            )
            continue
        content = apply_overrides(generated, row["overrides"])
        sources = list(row["sources"])
        if source not in sources:
            sources.append(source)
        if _fingerprint(content) == _fingerprint(row["content"]) and sources == row["sources"]:
            out.unchanged += 1
            continue
        updated = await repo.update_fields(
            rid,
            {
                "content": content,
                "sources": sources,
                "grp": s.group,
                "subject": s.subject,
                "municipality": s.municipality,
                "organisation": s.organisation,
                "period_start": date.fromisoformat(generated["period"]["start"]),
                "period_end": date.fromisoformat(generated["period"]["end"]),
                "content_version": row["content_version"] + 1,
                "mentor_id": (generated.get("mentoring") or {}).get("mentor_id"),
                "next_control_on": next_control_on(content),
            },
        )
        if updated is not None:
            out.regenerated += 1
            await repo.add_version(
                rid, row["content_version"] + 1, content, "перегенерирован по новым результатам", actor.sub
            )
            await repo.add_event(
                rid,
                actor,
                "regenerated",
                comment=f"новые результаты: {s.campaign_id}",
                content_version=row["content_version"] + 1,
            )
    out.timings["build_ms"] = round((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    out.created = len(await repo.insert_many(inserts))
    await repo.add_events(events)
    out.timings["write_ms"] = round((time.perf_counter() - t0) * 1000)
    return out
