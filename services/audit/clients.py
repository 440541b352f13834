"""Calls to the routes and assessment services through the gateway, one adapter function per call.

Each adapter owns the path and the answer's shape of one upstream endpoint, so a change of
contract is made here and nowhere else. They raise `UpstreamUnavailable` when the other service
cannot be reached, `UpstreamError` (kit.client) for an error answer, and `UpstreamShapeError` when
the answer does not have the agreed shape.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kit.client import GatewayClient, UpstreamError
from kit.errors import UpstreamUnavailable
from services.audit.vocab import CRITERIA_COUNT, LEVEL_BY_NAME

PAGE_LIMIT = 500


class UpstreamShapeError(Exception):
    """Another service answered 2xx with a body that does not match the agreed contract."""


class Upstream:
    """The gateway client, acting in one region per call (kit.client mints and caches the tokens)."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    async def get_json(self, path: str, *, region: str | None, params: dict[str, Any] | None = None) -> Any:
        clean = {k: v.isoformat() if isinstance(v, date) else v for k, v in (params or {}).items() if v is not None}
        return await self.client.json("GET", path, params=clean, region=region)

    async def aclose(self) -> None:
        await self.client.aclose()


def _shape(cond: bool, what: str) -> None:
    if not cond:
        raise UpstreamShapeError(what)


def _moment(v: Any) -> datetime:
    """An ISO date or datetime as an aware datetime (UTC when the sender gave no zone)."""
    dt = datetime.fromisoformat(str(v))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _int(v: Any, what: str) -> int:
    _shape(isinstance(v, int) and not isinstance(v, bool), what)
    return int(v)


# --- routes: one route ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteSnapshot:
    id: uuid.UUID
    teacher_id: uuid.UUID
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int
    status: str
    version: int
    self_check_scores: list[int | None]
    self_check_meta: list[dict[str, Any]]
    self_check_total: int | None


def parse_route(body: Any) -> RouteSnapshot:
    try:
        sc = body.get("self_check") or {}
        by_number = {int(c["number"]): c for c in sc.get("criteria") or []}
        scores: list[int | None] = []
        meta: list[dict[str, Any]] = []
        for n in range(1, CRITERIA_COUNT + 1):
            c = by_number.get(n) or {}
            s = c.get("score")
            _shape(s is None or s in (0, 1, 2), "self-check score")
            scores.append(s)
            meta.append({"number": n, "auto": bool(c.get("auto", False)), "reason": c.get("reason")})
        group = _int(body["group"], "group")
        _shape(1 <= group <= 4, "group")
        total = sc.get("total")
        return RouteSnapshot(
            id=uuid.UUID(str(body["id"])),
            teacher_id=uuid.UUID(str(body["teacher_id"])),
            region=str(body["region"]),
            municipality=str(body["municipality"]),
            organisation=str(body["organisation"]),
            subject=body.get("subject"),
            group=group,
            status=str(body["status"]),
            version=_int(body["version"], "version"),
            self_check_scores=scores,
            self_check_meta=meta,
            self_check_total=total if isinstance(total, int) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UpstreamShapeError("route") from e


async def fetch_route(up: Upstream, route_id: uuid.UUID) -> RouteSnapshot | None:
    """GET /api/v1/routes/{id} as the service (region-wide); None when the route does not exist."""
    try:
        body = await up.get_json(f"/api/v1/routes/{route_id}", region=None)
    except UpstreamError as e:
        if e.status == 404:
            return None
        if e.status >= 500:
            raise UpstreamUnavailable("the routes service is unavailable", code="routes-unavailable") from e
        raise
    return parse_route(body)


# --- routes: mark audited (the outbox delivers through this) --------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    permanent: bool  # a refusal that retrying will not change
    status: int | None
    error: str | None


PERMANENT_STATUSES = frozenset({400, 404, 409, 410, 422})


async def mark_route_audited(
    up: Upstream, route_id: uuid.UUID, *, audit_id: uuid.UUID, total: int, completed_at: datetime
) -> DeliveryOutcome:
    """POST /api/v1/routes/{id}/audited; the receiver is idempotent on audit_id, so retrying is safe."""
    payload = {"audit_id": str(audit_id), "total": total, "completed_at": completed_at.isoformat()}
    try:
        resp = await up.client.request(
            "POST",
            f"/api/v1/routes/{route_id}/audited",
            json=payload,
            retries=0,
            headers={"Idempotency-Key": f"audit-{audit_id}"},
        )
    except UpstreamUnavailable:
        return DeliveryOutcome(False, False, None, "routes service unreachable")
    except Exception as e:  # a transport error of any kind is worth retrying
        return DeliveryOutcome(False, False, None, f"transport error: {type(e).__name__}")
    if resp.status_code in (200, 201, 204):
        return DeliveryOutcome(True, False, resp.status_code, None)
    code = None
    try:
        body = resp.json()
        code = body.get("code") if isinstance(body, dict) else None
    except ValueError:
        pass
    error = f"routes answered {resp.status_code}" + (f" ({code})" if code else "")
    return DeliveryOutcome(False, resp.status_code in PERMANENT_STATUSES, resp.status_code, error)


# --- routes: statistics and outcomes --------------------------------------------------------------


@dataclass(frozen=True)
class RouteStats:
    teachers_with_route: int
    routes_created: int
    routes_completed: int
    teachers_completed_matching_courses: int


async def fetch_route_stats(
    up: Upstream, *, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> RouteStats:
    """GET /api/v1/routes/stats (counts of teachers with routes, routes created/completed in the period)."""
    body = await up.get_json(
        "/api/v1/routes/stats",
        region=region,
        params={"municipality": municipality, "date_from": date_from, "date_to": date_to},
    )
    _shape(isinstance(body, dict), "routes stats")
    return RouteStats(
        teachers_with_route=_int(body.get("teachers_with_route"), "teachers_with_route"),
        routes_created=_int(body.get("routes_created"), "routes_created"),
        routes_completed=_int(body.get("routes_completed"), "routes_completed"),
        teachers_completed_matching_courses=_int(
            body.get("teachers_completed_matching_courses"), "teachers_completed_matching_courses"
        ),
    )


@dataclass(frozen=True)
class RouteOutcome:
    route_id: str
    teacher_id: str
    municipality: str
    group: int
    subject: str | None
    status: str
    completed_at: datetime | None
    resource_kinds: tuple[str, ...]
    mentor_id: str | None
    deficits: frozenset[str]


def parse_outcome(item: Any) -> RouteOutcome:
    try:
        completed = item.get("completed_at")
        return RouteOutcome(
            route_id=str(item["route_id"]),
            teacher_id=str(item["teacher_id"]),
            municipality=str(item["municipality"]),
            group=_int(item["group"], "group"),
            subject=item.get("subject"),
            status=str(item["status"]),
            completed_at=_moment(completed) if completed else None,
            resource_kinds=tuple(sorted({str(k) for k in item.get("resource_kinds") or []})),
            mentor_id=str(item["mentor_id"]) if item.get("mentor_id") else None,
            deficits=frozenset(str(d) for d in item.get("deficits") or []),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UpstreamShapeError("route outcome") from e


async def iter_route_outcomes(
    up: Upstream, *, region: str | None, municipality: str | None
) -> AsyncIterator[RouteOutcome]:
    """Walk GET /api/v1/routes/outcomes keyset pages."""
    cursor: str | None = None
    while True:
        body = await up.get_json(
            "/api/v1/routes/outcomes",
            region=region,
            params={"municipality": municipality, "cursor": cursor, "limit": PAGE_LIMIT},
        )
        _shape(isinstance(body, dict) and isinstance(body.get("items"), list), "route outcomes page")
        for item in body["items"]:
            yield parse_outcome(item)
        cursor = body.get("next_cursor")
        if not cursor:
            return


# --- assessment: KPI counts, results for re-assessment, municipalities ----------------------------


@dataclass(frozen=True)
class TeacherLevels:
    teachers_total: int  # registered teachers in scope
    teachers_assessed: int  # with a result (their latest counts)
    basic_or_higher: int


ASSESSMENT_KPI_PATH = "/api/v1/assessment/analytics/kpi"


def period_year(date_from: date | None, date_to: date | None) -> int | None:
    """The assessment analytics filter by campaign year: a period inside one calendar year maps to it."""
    if date_from is not None and date_to is not None and date_from.year == date_to.year:
        return date_from.year
    return None


async def fetch_teacher_levels(
    up: Upstream, *, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> TeacherLevels:
    """GET /api/v1/assessment/analytics/kpi -> {assessed, basic_or_higher, registered_teachers, ...}."""
    body = await up.get_json(
        ASSESSMENT_KPI_PATH,
        region=region,
        params={"municipality": municipality, "year": period_year(date_from, date_to)},
    )
    _shape(isinstance(body, dict), "assessment KPI")
    return TeacherLevels(
        teachers_total=_int(body.get("registered_teachers"), "registered_teachers"),
        teachers_assessed=_int(body.get("assessed"), "assessed"),
        basic_or_higher=_int(body.get("basic_or_higher"), "basic_or_higher"),
    )


@dataclass(frozen=True)
class AssessmentPoint:
    assessed_at: datetime
    level: int  # 1..4
    deficits: frozenset[str]


@dataclass(frozen=True)
class ResultPoint:
    """One scored result of a teacher, reduced to what the effectiveness analysis reads."""

    teacher_id: str
    municipality: str
    subject: str
    point: AssessmentPoint


@dataclass(frozen=True)
class Reassessment:
    teacher_id: str
    municipality: str
    subject: str
    before: AssessmentPoint
    after: AssessmentPoint


RESULTS_PATH = "/api/v1/results"


def parse_result(item: Any) -> ResultPoint:
    """An item of GET /api/v1/results: teacher_id, municipality, campaign{subject, assessed_on}, level, deficits."""
    try:
        campaign = item["campaign"]
        return ResultPoint(
            teacher_id=str(item["teacher_id"]),
            municipality=str(item["municipality"]),
            subject=str(campaign["subject"]),
            point=AssessmentPoint(
                assessed_at=_moment(campaign["assessed_on"]),
                level=int(LEVEL_BY_NAME[str(item["level"])]),
                deficits=frozenset(str(d["competency"]) for d in item.get("deficits") or []),
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UpstreamShapeError("assessment result") from e


async def iter_results(up: Upstream, *, region: str | None, municipality: str | None) -> AsyncIterator[ResultPoint]:
    """Walk GET /api/v1/results keyset pages (every result in scope)."""
    cursor: str | None = None
    while True:
        body = await up.get_json(
            RESULTS_PATH, region=region, params={"municipality": municipality, "cursor": cursor, "limit": PAGE_LIMIT}
        )
        _shape(isinstance(body, dict) and isinstance(body.get("items"), list), "results page")
        for item in body["items"]:
            yield parse_result(item)
        cursor = body.get("next_cursor")
        if not cursor:
            return


def pair_results(points: Iterable[ResultPoint], *, date_from: date | None, date_to: date | None) -> list[Reassessment]:
    """Per teacher and subject, the latest result (inside the period) against the one before it."""
    by_key: dict[tuple[str, str], list[ResultPoint]] = {}
    for p in points:
        by_key.setdefault((p.teacher_id, p.subject), []).append(p)
    out = []
    for (teacher_id, subject), items in by_key.items():
        items.sort(key=lambda p: p.point.assessed_at)
        if date_to is not None:
            items = [p for p in items if p.point.assessed_at.date() <= date_to]
        if len(items) < 2:
            continue
        after, before = items[-1], items[-2]
        if date_from is not None and after.point.assessed_at.date() < date_from:
            continue
        out.append(Reassessment(teacher_id, after.municipality, subject, before.point, after.point))
    return out


async def fetch_reassessments(
    up: Upstream, *, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> list[Reassessment]:
    """Teachers assessed at least twice in a subject, from the results listing (no dedicated endpoint yet)."""
    points = [p async for p in iter_results(up, region=region, municipality=municipality)]
    return pair_results(points, date_from=date_from, date_to=date_to)


async def fetch_municipality_codes(up: Upstream, *, region: str | None) -> list[str]:
    """GET /api/v1/municipalities (assessment's directory): the municipalities of the region."""
    body = await up.get_json("/api/v1/municipalities", region=region)
    _shape(isinstance(body, list), "municipalities")
    try:
        return sorted({str(m["code"]) for m in body if region is None or m.get("region") == region})
    except (KeyError, TypeError) as e:
        raise UpstreamShapeError("municipalities") from e


class MunicipalityDirectory:
    """The region's municipality codes from assessment's directory, kept for a short while.

    A code missing from what was kept is looked up again before it is called unknown, so a
    municipality the region has just registered is accepted at once."""

    def __init__(self, up: Upstream, ttl_seconds: float = 60.0) -> None:
        self.up = up
        self.ttl = ttl_seconds
        self._known: dict[str, tuple[float, frozenset[str]]] = {}

    async def unknown(self, region: str, codes: Iterable[str]) -> set[str]:
        """The codes among `codes` that are not municipalities of `region` (raises UpstreamError or
        UpstreamShapeError when the directory cannot be read)."""
        wanted = set(codes)
        now = time.monotonic()
        kept = self._known.get(region)
        if kept is not None and kept[0] > now and wanted <= kept[1]:
            return set()
        known = frozenset(await fetch_municipality_codes(self.up, region=region))
        self._known[region] = (now + self.ttl, known)
        return wanted - known
