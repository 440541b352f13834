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
from functools import cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from kit.client import GatewayClient, UpstreamError
from kit.errors import AppError, UpstreamUnavailable
from kit.russian import SERVICE_NAMES_RU
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


class BadUpstreamAnswer(AppError):
    status, code, title = 502, "upstream-contract", "Ошибка связи между сервисами"


def upstream_reason(service: str, exc: BaseException) -> str:
    """Why an upstream call failed, in Russian, without any personal data."""
    name = SERVICE_NAMES_RU.get(service, "Другой сервис платформы")
    if isinstance(exc, UpstreamShapeError):
        return f"{name} ответил в неожиданном формате"
    if isinstance(exc, UpstreamError):
        if exc.status == 404:
            return f"{name} не предоставляет эти данные"
        if exc.status in (502, 503, 504):
            return f"{name} временно недоступен"
        return f"{name} ответил ошибкой (код {exc.status})"
    return f"{name} временно недоступен"


# --- the answers' shapes: read through pydantic, any mismatch is an UpstreamShapeError ------------


class Wire(BaseModel):
    """An upstream answer as agreed: the fields audit reads; others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def _aware(dt: datetime) -> datetime:
    """UTC when the sender gave no zone."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


Moment = Annotated[datetime, AfterValidator(_aware)]  # an ISO date or datetime
W = TypeVar("W")
ItemT = TypeVar("ItemT")


@cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def read_answer(shape: type[W], body: Any, what: str) -> W:
    """The body read as `shape`; UpstreamShapeError naming `what` when it does not fit."""
    try:
        answer: W = _adapter(shape).validate_python(body)  # type: ignore[arg-type]
        return answer
    except ValidationError as e:
        raise UpstreamShapeError(what) from e


class Page(Wire, Generic[ItemT]):
    """A keyset page of an upstream listing."""

    items: list[ItemT]
    next_cursor: str | None = None


async def _walk_pages(
    up: Upstream,
    path: str,
    shape: type[Page[ItemT]],
    what: str,
    region: str | None,
    municipality: str | None,
    **filters: Any,
) -> AsyncIterator[ItemT]:
    """Every item of a keyset listing, page after page, until it gives no next cursor."""
    cursor: str | None = None
    while True:
        params = {"municipality": municipality, "cursor": cursor, "limit": PAGE_LIMIT, **filters}
        page = read_answer(shape, await up.get_json(path, region=region, params=params), what)
        for item in page.items:
            yield item
        cursor = page.next_cursor
        if not cursor:
            return


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


class SelfCheckCriterionWire(Wire):
    number: int
    score: Literal[0, 1, 2] | None = None
    auto: bool = False
    reason: str | None = None


class SelfCheckWire(Wire):
    criteria: list[SelfCheckCriterionWire] | None = None
    total: StrictInt | None = None


class RouteWire(Wire):
    """GET /api/v1/routes/{id}: what the audit copies from a route."""

    id: uuid.UUID
    teacher_id: uuid.UUID
    region: str
    municipality: str
    organisation: str
    subject: str | None = None
    group: Annotated[StrictInt, Field(ge=1, le=4)]
    status: str
    version: StrictInt
    self_check: SelfCheckWire | None = None


def parse_route(body: Any) -> RouteSnapshot:
    route = read_answer(RouteWire, body, "route")
    sc = route.self_check or SelfCheckWire()
    by_number = {c.number: c for c in sc.criteria or []}
    scores: list[int | None] = []
    meta: list[dict[str, Any]] = []
    for n in range(1, CRITERIA_COUNT + 1):
        c = by_number.get(n) or SelfCheckCriterionWire(number=n)
        scores.append(c.score)
        meta.append({"number": n, "auto": c.auto, "reason": c.reason})
    return RouteSnapshot(
        id=route.id,
        teacher_id=route.teacher_id,
        region=route.region,
        municipality=route.municipality,
        organisation=route.organisation,
        subject=route.subject,
        group=route.group,
        status=route.status,
        version=route.version,
        self_check_scores=scores,
        self_check_meta=meta,
        self_check_total=sc.total,
    )


async def fetch_route(up: Upstream, route_id: uuid.UUID) -> RouteSnapshot | None:
    """GET /api/v1/routes/{id} as the service (region-wide); None when the route does not exist."""
    try:
        body = await up.get_json(f"/api/v1/routes/{route_id}", region=None)
    except UpstreamError as e:
        if e.status == 404:
            return None
        if e.status >= 500:
            raise UpstreamUnavailable("Сервис маршрутов временно недоступен", code="routes-unavailable") from e
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


class ProblemWire(Wire):
    code: str | None = None


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
    try:
        code = read_answer(ProblemWire, resp.json(), "problem").code
    except (ValueError, UpstreamShapeError):
        code = None
    error = f"routes answered {resp.status_code}" + (f" ({code})" if code else "")
    return DeliveryOutcome(False, resp.status_code in PERMANENT_STATUSES, resp.status_code, error)


# --- routes: statistics and outcomes --------------------------------------------------------------


class RouteStats(Wire):
    """GET /api/v1/routes/stats: counts of teachers with routes, routes created/completed in the period."""

    teachers_with_route: StrictInt
    routes_created: StrictInt
    routes_completed: StrictInt
    teachers_completed_matching_courses: StrictInt


async def fetch_route_stats(
    up: Upstream,
    *,
    region: str | None,
    municipality: str | None,
    date_from: date | None,
    date_to: date | None,
    organisation: str | None = None,
) -> RouteStats:
    """GET /api/v1/routes/stats (counts of teachers with routes, routes created/completed in the period)."""
    params = {"municipality": municipality, "organisation": organisation, "date_from": date_from, "date_to": date_to}
    body = await up.get_json("/api/v1/routes/stats", region=region, params=params)
    return read_answer(RouteStats, body, "routes stats")


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


class RouteOutcomeWire(Wire):
    """An item of GET /api/v1/routes/outcomes."""

    route_id: str
    teacher_id: str
    municipality: str
    group: StrictInt
    subject: str | None = None
    status: str
    completed_at: Moment | None = None
    resource_kinds: list[str] | None = None
    mentor_id: str | None = None
    deficits: list[str] | None = None


class RouteOutcomePage(Page[RouteOutcomeWire]):
    """A page of GET /api/v1/routes/outcomes."""


def _outcome(item: RouteOutcomeWire) -> RouteOutcome:
    return RouteOutcome(
        route_id=item.route_id,
        teacher_id=item.teacher_id,
        municipality=item.municipality,
        group=item.group,
        subject=item.subject,
        status=item.status,
        completed_at=item.completed_at,
        resource_kinds=tuple(sorted(set(item.resource_kinds or []))),
        mentor_id=item.mentor_id or None,
        deficits=frozenset(item.deficits or []),
    )


def parse_outcome(item: Any) -> RouteOutcome:
    return _outcome(read_answer(RouteOutcomeWire, item, "route outcome"))


async def iter_route_outcomes(
    up: Upstream, *, region: str | None, municipality: str | None, mentored: bool | None = None
) -> AsyncIterator[RouteOutcome]:
    """Walk GET /api/v1/routes/outcomes keyset pages (`mentored`: only the routes with a mentor, or without)."""
    pages = _walk_pages(
        up, "/api/v1/routes/outcomes", RouteOutcomePage, "route outcomes page", region, municipality, mentored=mentored
    )
    async for item in pages:
        yield _outcome(item)


# --- assessment: KPI counts, results for re-assessment, municipalities ----------------------------


@dataclass(frozen=True)
class TeacherLevels:
    teachers_total: int  # registered teachers in scope
    teachers_assessed: int  # with a result (their latest counts)
    basic_or_higher: int
    young_teacher_ids: frozenset[str] = frozenset()  # under 35 by year of birth
    birth_year_known: int = 0


ASSESSMENT_KPI_PATH = "/api/v1/assessment/analytics/kpi"


class AssessmentKpiWire(Wire):
    registered_teachers: StrictInt
    assessed: StrictInt
    basic_or_higher: StrictInt
    young_teacher_ids: list[str] | None = None
    birth_year_known: StrictInt = 0


def period_year(date_from: date | None, date_to: date | None) -> int | None:
    """The assessment analytics filter by campaign year: a period inside one calendar year maps to it."""
    if date_from is not None and date_to is not None and date_from.year == date_to.year:
        return date_from.year
    return None


async def fetch_teacher_levels(
    up: Upstream,
    *,
    region: str | None,
    municipality: str | None,
    date_from: date | None,
    date_to: date | None,
    organisation: str | None = None,
) -> TeacherLevels:
    """GET /api/v1/assessment/analytics/kpi -> {assessed, basic_or_higher, registered_teachers, young ids, ...}."""
    params = {
        "municipality": municipality,
        "organisation": organisation,
        "year": period_year(date_from, date_to),
        "young_ids": "true",
    }
    body = await up.get_json(ASSESSMENT_KPI_PATH, region=region, params=params)
    kpi = read_answer(AssessmentKpiWire, body, "assessment KPI")
    return TeacherLevels(
        teachers_total=kpi.registered_teachers,
        teachers_assessed=kpi.assessed,
        basic_or_higher=kpi.basic_or_higher,
        young_teacher_ids=frozenset(kpi.young_teacher_ids or ()),
        birth_year_known=kpi.birth_year_known,
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


def _level_name(name: str) -> str:
    if name not in LEVEL_BY_NAME:
        raise ValueError("unknown level")
    return name


class ResultCampaignWire(Wire):
    subject: str
    assessed_on: Moment


class ResultDeficitWire(Wire):
    competency: str


class ResultWire(Wire):
    """An item of GET /api/v1/results: teacher_id, municipality, campaign{subject, assessed_on}, level, deficits."""

    teacher_id: str
    municipality: str
    campaign: ResultCampaignWire
    level: Annotated[str, AfterValidator(_level_name)]
    deficits: list[ResultDeficitWire] | None = None


class ResultPage(Page[ResultWire]):
    """A page of GET /api/v1/results."""


def _result(item: ResultWire) -> ResultPoint:
    return ResultPoint(
        teacher_id=item.teacher_id,
        municipality=item.municipality,
        subject=item.campaign.subject,
        point=AssessmentPoint(
            assessed_at=item.campaign.assessed_on,
            level=int(LEVEL_BY_NAME[item.level]),
            deficits=frozenset(d.competency for d in item.deficits or []),
        ),
    )


def parse_result(item: Any) -> ResultPoint:
    return _result(read_answer(ResultWire, item, "assessment result"))


async def iter_results(up: Upstream, *, region: str | None, municipality: str | None) -> AsyncIterator[ResultPoint]:
    """Walk GET /api/v1/results keyset pages (every result in scope)."""
    async for item in _walk_pages(up, RESULTS_PATH, ResultPage, "results page", region, municipality):
        yield _result(item)


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


class MunicipalityWire(Wire):
    code: str
    region: str | None = None


async def fetch_municipality_codes(up: Upstream, *, region: str | None) -> list[str]:
    """GET /api/v1/municipalities (assessment's directory): the municipalities of the region."""
    body = await up.get_json("/api/v1/municipalities", region=region)
    municipalities = read_answer(list[MunicipalityWire], body, "municipalities")
    return sorted({m.code for m in municipalities if region is None or m.region == region})


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


async def unknown_municipalities(directory: MunicipalityDirectory, region: str, codes: list[str]) -> set[str]:
    """The codes that are not municipalities of the region in assessment's directory; 503 when the
    directory cannot be read (a write is refused rather than stored unchecked)."""
    try:
        return await directory.unknown(region, codes)
    except (UpstreamError, UpstreamShapeError) as e:
        raise UpstreamUnavailable(
            f"Коды муниципалитетов сейчас нельзя проверить: {upstream_reason('assessment', e)}",
            code="upstream-unavailable",
        ) from e
