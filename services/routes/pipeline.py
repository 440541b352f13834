"""Generate routes for many teachers at once: one matching call per distinct context, pure
generation, then one write per batch. Idempotent: route ids are derived from (teacher, period)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.routes.content import apply_overrides, next_control_on
from services.routes.generation import Alternative, MentorChoice, Snapshot, generate
from services.routes.periods import period_key, route_period
from services.routes.repository import RouteRepository, route_record
from services.routes.support_groups import group_rules
from services.routes.webhooks import events as webhook_events
from services.routes.workflow import Status

T = TypeVar("T")
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

    @property
    def directory(self) -> Names: ...


class Names(Protocol):
    """Names of municipalities (services.routes.directory.Directory): the form reasons name where a form runs."""

    async def municipality_names_in(self, regions: Sequence[str]) -> dict[str, str]: ...


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
    start, end = route_period(s.group, s.assessed_on, today)
    return MatchContext(tuple(c.code for c in s.deficits()), s.subject, s.group, s.municipality, start, end, s.region)


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


RouteKey = tuple[uuid.UUID, str]


@dataclass
class Batch:
    """The results a batch will generate from: the one driving each route, and the routes they touch."""

    by_route: dict[uuid.UUID, Snapshot]
    considered: int
    outdated: int

    @cached_property
    def keys(self) -> list[RouteKey]:
        return [(uuid.UUID(s.teacher_id), period_key(s.assessed_on)) for s in self.by_route.values()]


def batch_of(snaps: Sequence[Snapshot], today: date, max_age_days: int | None = None) -> Batch:
    """Choose what drives each route; results older than `max_age_days` (history loaded for dynamics) get none."""
    fresh = snaps if max_age_days is None else [s for s in snaps if (today - s.assessed_on).days <= max_age_days]
    return Batch(latest_per_route(fresh), len(snaps), len(snaps) - len(fresh))


@dataclass
class Regeneration:
    route_id: uuid.UUID
    values: dict[str, Any]
    content_version: int
    content: dict[str, Any]
    comment: str


@dataclass
class Plan:
    """What generating a batch writes, worked out from the routes as they were when read.

    `seen` holds the workflow version of every route of the batch that existed then (every change of
    a route bumps it), so a writer can check under the generation lock that the plan still holds."""

    outcome: Outcome
    seen: dict[RouteKey, int]
    inserts: list[bytes] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    regenerations: list[Regeneration] = field(default_factory=list)


# Building yields to the event loop this often (about a millisecond of work), so the write of the
# previous page in flight is not held up: a COPY of a page (~7 MB) goes through a socket buffer of a few
# hundred kilobytes, which the event loop refills only between two steps of other work.
YIELD_EVERY = 8


async def plan_routes(
    batch: Batch,
    existing: dict[RouteKey, dict[str, Any]],
    resource_map: ResourceMap,
    today: date,
    actor: Principal,
) -> Plan:
    """Generate the content of new routes and of drafts to regenerate; leave routes under way alone.

    Asks the resource map for forms, mentors (a stored assignment, replayed for the same mentees) and the
    names of municipalities (the form reasons say where a form runs by name)."""
    out = Outcome(considered=batch.considered, outdated=batch.outdated)
    plan = Plan(out, {key: int(row["version"]) for key, row in existing.items()})
    pending: dict[uuid.UUID, tuple[Snapshot, dict[str, Any] | None]] = {}
    for rid, s in batch.by_route.items():
        row = existing.get((uuid.UUID(s.teacher_id), period_key(s.assessed_on)))
        if row is not None and row["status"] != Status.draft:
            out.unchanged += 1  # under review or running: new results wait for the next period
            continue
        pending[rid] = (s, row)
    if not pending:
        return plan
    contexts = {rid: context_of(s, today) for rid, (s, _) in pending.items()}
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
        if group_rules(s.group).mentor_required and s.teacher_id not in mentors
    ]

    async def timed(name: str, call: Awaitable[T]) -> T:
        t0 = time.perf_counter()
        try:
            return await call
        finally:
            out.timings[name] = round((time.perf_counter() - t0) * 1000)

    # Matching and mentor assignment do not depend on each other: both are asked at once (the first
    # failure is raised as it is, and the other call is cancelled).
    matching = asyncio.ensure_future(
        timed("match_ms", resource_map.alternatives(sorted(set(contexts.values()), key=repr)))
    )
    assigning = asyncio.ensure_future(timed("mentors_ms", resource_map.mentors(mentees))) if mentees else None
    regions = sorted({snap.region for snap, _ in pending.values()})
    naming = asyncio.ensure_future(timed("names_ms", resource_map.directory.municipality_names_in(regions)))
    try:
        alternatives = await matching
        if assigning is not None:
            mentors.update(await assigning)
        names = await naming
    finally:
        matching.cancel()
        naming.cancel()
        if assigning is not None:
            assigning.cancel()
    t0 = time.perf_counter()
    for n, (rid, (s, row)) in enumerate(pending.items(), 1):
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        generated = generate(s, alternatives.get(contexts[rid], {}), mentors.get(s.teacher_id), today, names)
        source = {"result_id": s.result_id, "campaign_id": s.campaign_id, "version": s.result_version}
        if row is None:
            plan.inserts.append(
                route_record(
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
            )
            plan.events.append(
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
        # Plain equality of the JSON values (the stored content comes back as dicts, lists and scalars).
        if content == row["content"] and sources == row["sources"]:
            out.unchanged += 1
            continue
        plan.regenerations.append(
            Regeneration(
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
                row["content_version"] + 1,
                content,
                f"новые результаты: {s.campaign_id}",
            )
        )
    out.timings["build_ms"] = round((time.perf_counter() - t0) * 1000)
    return plan


async def write_plan(session: AsyncSession, plan: Plan, actor: Principal) -> Outcome:
    """Write a plan in the caller's transaction; the caller holds the generation lock and has checked `seen`."""
    out = plan.outcome
    repo = RouteRepository(session)
    t0 = time.perf_counter()
    for r in plan.regenerations:
        updated = await repo.update_fields(r.route_id, r.values)
        if updated is not None:
            out.regenerated += 1
            await repo.add_version(
                r.route_id, r.content_version, r.content, "перегенерирован по новым результатам", actor.sub
            )
            await repo.add_event(r.route_id, actor, "regenerated", comment=r.comment, content_version=r.content_version)
    out.created = await repo.insert_many(plan.inserts)
    await repo.add_events(plan.events)
    await webhook_events.routes_generated(session, [e["route_id"] for e in plan.events])
    out.timings["write_ms"] = round((time.perf_counter() - t0) * 1000)
    return out


async def generate_routes(
    session: AsyncSession,
    snaps: Sequence[Snapshot],
    resource_map: ResourceMap,
    today: date,
    actor: Principal,
    max_age_days: int | None = None,
) -> Outcome:
    """Create routes for new (teacher, period) pairs and regenerate drafts; leave routes under way alone.

    The caller holds the generation lock. Results older than `max_age_days` (history loaded for
    dynamics) get no route."""
    batch = batch_of(snaps, today, max_age_days)
    existing = await RouteRepository(session).existing_for(batch.keys)
    plan = await plan_routes(batch, existing, resource_map, today, actor)
    return await write_plan(session, plan, actor)
