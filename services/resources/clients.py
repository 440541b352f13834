"""Typed calls to the other services (through the gateway, with this service's own token)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kit.client import GatewayClient, UpstreamError
from kit.errors import AppError

log = logging.getLogger("resources.clients")

# The assessment service's analytics of deficits (issue 3). Expected answer, one row per
# municipality and subject: {"items": [{"municipality": "mo-01", "subject": "mathematics",
# "teachers": 42}, ...]} (a bare list of such rows is accepted too); `teachers` counts teachers with
# at least one deficit in that subject's assessments; asked in the caller's region.
DEFICIT_DEMAND_PATH = "/api/v1/assessment/analytics/deficit-demand"
MUNICIPALITIES_PATH = "/api/v1/municipalities"
# The routes service's route (GET /routes/{id}): whose it is and where, read with this service's own token.
ROUTE_PATH = "/api/v1/routes/{route_id}"
# The methodological active (issue 15) reads an assessment campaign, its results (with levels) and the
# registry's teachers (qualification category, experience) with this service's own token, in the caller's region.
CAMPAIGN_PATH = "/api/v1/campaigns/{campaign_id}"
RESULTS_PATH = "/api/v1/results"
TEACHER_PATH = "/api/v1/teachers/{teacher_id}"
TEACHER_BY_EXTERNAL_ID_PATH = "/api/v1/teachers/by-external-id/{external_id}"
TEACHERS_PATH = "/api/v1/teachers"
# Registry reads of one batch run this many at a time.
REGISTRY_CONCURRENCY = 8


class DemandItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    municipality: str = Field(min_length=1, max_length=32)
    subject: str = Field(min_length=1, max_length=32)
    teachers: int = Field(ge=0)


class MunicipalityItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str
    region: str | None = None


class RouteRef(BaseModel):
    """What a reservation takes from its route: the teacher and their scope (never from the body)."""

    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    teacher_id: uuid.UUID
    region: str = Field(min_length=1, max_length=64)
    municipality: str = Field(min_length=1, max_length=32)
    organisation: str = Field(min_length=1, max_length=32)
    status: str


class CampaignInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    name: str
    source: str
    subject: str
    status: str


class ResultLevel(BaseModel):
    """What the active takes of a result: whose it is, where, and the level."""

    model_config = ConfigDict(extra="ignore")
    teacher_id: uuid.UUID
    municipality: str
    organisation: str
    level: str


class ResultsPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[ResultLevel]
    next_cursor: str | None = None


class TeacherInfo(BaseModel):
    """A registry teacher as the active needs them (the name only to match an import row; never stored)."""

    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    external_id: str
    full_name: str
    municipality: str
    organisation: str
    subjects: list[str] = Field(default_factory=list)
    qualification_category: str | None = None
    experience_years: int | None = None


class TeachersPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[TeacherInfo]
    next_cursor: str | None = None


class ItemsPage(BaseModel):
    """A listing answer: `{"items": [...]}` (other keys, e.g. a cursor, are not needed here)."""

    model_config = ConfigDict(extra="ignore")
    items: list[Any]


# A listing as the other services answer it: a page of items, or a bare list of them.
LISTING = TypeAdapter(ItemsPage | list[Any])
DEMAND_ROWS = TypeAdapter(list[DemandItem])
MUNICIPALITY_ROWS = TypeAdapter(list[MunicipalityItem])


class Unavailable(Exception):
    """The other service could not give the data; the message says why (no personal data)."""


def listing_items(body: Any) -> list[Any]:
    try:
        listing = LISTING.validate_python(body)
    except ValidationError as e:
        raise Unavailable("unexpected answer shape") from e
    return listing.items if isinstance(listing, ItemsPage) else listing


class AssessmentClient:
    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def deficit_demand(self, region: str | None) -> dict[tuple[str, str], int]:
        """Teachers with deficits per (municipality, subject), or Unavailable."""
        try:
            # Acting in the region (a service token narrowed to it) scopes the answer to it.
            body = await self.gateway.json("GET", DEFICIT_DEMAND_PATH, retries=1, region=region)
        except UpstreamError as e:
            raise Unavailable(f"the assessment service answered {e.status}") from e
        except AppError as e:
            raise Unavailable("the assessment service is unavailable") from e
        try:
            rows = DEMAND_ROWS.validate_python(listing_items(body))
        except ValidationError as e:
            raise Unavailable("the assessment service answered rows of an unexpected shape") from e
        out: dict[tuple[str, str], int] = {}
        for r in rows:
            out[(r.municipality, r.subject)] = out.get((r.municipality, r.subject), 0) + r.teachers
        return out

    async def municipalities(self, region: str | None) -> list[str]:
        """Codes of the region's municipalities (empty when the directory cannot be read)."""
        try:
            body = await self.gateway.json("GET", MUNICIPALITIES_PATH, retries=1)
            rows = MUNICIPALITY_ROWS.validate_python(listing_items(body))
        except (UpstreamError, AppError, ValidationError, Unavailable) as e:
            log.warning("municipality directory unavailable", extra={"reason": type(e).__name__})
            return []
        return sorted(r.code for r in rows if region is None or r.region in (None, region))


class RegistryClient:
    """The assessment campaign, its results and the registry's teachers, for the methodological active."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def _get(self, path: str, region: str | None, params: dict[str, Any] | None = None) -> Any:
        """The answer's JSON; None for 404; Unavailable for anything else that is not an answer."""
        try:
            return await self.gateway.json("GET", path, params=params, retries=1, region=region)
        except UpstreamError as e:
            if e.status == 404:
                return None
            raise Unavailable(f"the assessment service answered {e.status}") from e
        except AppError as e:
            raise Unavailable("the assessment service is unavailable") from e

    async def campaign(self, campaign_id: uuid.UUID, region: str | None) -> CampaignInfo | None:
        body = await self._get(CAMPAIGN_PATH.format(campaign_id=campaign_id), region)
        try:
            return None if body is None else CampaignInfo.model_validate(body)
        except ValidationError as e:
            raise Unavailable("the assessment service answered a campaign of an unexpected shape") from e

    async def campaign_results(self, campaign_id: uuid.UUID, region: str | None) -> list[ResultLevel]:
        """Every result of the campaign (all pages)."""
        out: list[ResultLevel] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"campaign_id": str(campaign_id), "limit": 500}
            if cursor:
                params["cursor"] = cursor
            body = await self._get(RESULTS_PATH, region, params)
            try:
                page = ResultsPage.model_validate(body)
            except ValidationError as e:
                raise Unavailable("the assessment service answered results of an unexpected shape") from e
            out.extend(page.items)
            cursor = page.next_cursor
            if not cursor or not page.items:
                return out

    async def _teacher(self, path: str, region: str | None) -> TeacherInfo | None:
        body = await self._get(path, region)
        try:
            return None if body is None else TeacherInfo.model_validate(body)
        except ValidationError as e:
            raise Unavailable("the assessment service answered a teacher of an unexpected shape") from e

    async def teachers(self, ids: list[uuid.UUID], region: str | None) -> dict[uuid.UUID, TeacherInfo]:
        """The registry's teachers of these ids (absent ones are left out), a few requests at a time."""
        limit = asyncio.Semaphore(REGISTRY_CONCURRENCY)

        async def one(tid: uuid.UUID) -> TeacherInfo | None:
            async with limit:
                return await self._teacher(TEACHER_PATH.format(teacher_id=tid), region)

        found = await asyncio.gather(*(one(t) for t in dict.fromkeys(ids)))
        return {t.id: t for t in found if t is not None}

    async def teachers_by_external_id(self, external_ids: list[str], region: str | None) -> dict[str, TeacherInfo]:
        limit = asyncio.Semaphore(REGISTRY_CONCURRENCY)

        async def one(ext: str) -> TeacherInfo | None:
            async with limit:
                return await self._teacher(TEACHER_BY_EXTERNAL_ID_PATH.format(external_id=quote(ext, safe="")), region)

        found = await asyncio.gather(*(one(e) for e in dict.fromkeys(external_ids)))
        return {t.external_id: t for t in found if t is not None}

    async def teachers_named(self, name: str, municipality: str, region: str | None) -> list[TeacherInfo]:
        """Teachers of the municipality whose name contains `name` (the caller keeps the exact matches)."""
        params = {"q": name[:100], "municipality": municipality, "limit": 50}
        body = await self._get(TEACHERS_PATH, region, params)
        try:
            return [] if body is None else TeachersPage.model_validate(body).items
        except ValidationError as e:
            raise Unavailable("the assessment service answered teachers of an unexpected shape") from e


class RoutesClient:
    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def route(self, route_id: uuid.UUID, region: str | None) -> RouteRef | None:
        """The route (None when the routes service has none by that id in the region), or Unavailable."""
        try:
            # Acting in the caller's region: another region's route answers 404 like an absent one.
            body = await self.gateway.json("GET", ROUTE_PATH.format(route_id=route_id), retries=1, region=region)
        except UpstreamError as e:
            if e.status == 404:
                return None
            raise Unavailable(f"the routes service answered {e.status}") from e
        except AppError as e:
            raise Unavailable("the routes service is unavailable") from e
        try:
            return RouteRef.model_validate(body)
        except ValidationError as e:
            raise Unavailable("the routes service answered a route of an unexpected shape") from e


# The picture a region reports of its methodological active (issue 15 point 5) reads, acting in the region: the
# directory's municipalities with names, the level distribution of each subject's latest results by municipality,
# and the region's latest monitoring campaign with its municipalities' totals and bands.
LEVELS_PATH = "/api/v1/assessment/analytics/levels"
MONITORING_CAMPAIGNS_PATH = "/api/v1/monitoring/campaigns"
MONITORING_SCORES_PATH = "/api/v1/monitoring/campaigns/{campaign_id}/scores"
MONITORING_VOCABULARY_PATH = "/api/v1/monitoring/steps"


class NamedMunicipality(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str = Field(min_length=1, max_length=32)
    name: str
    region: str | None = None


class LevelCount(BaseModel):
    model_config = ConfigDict(extra="ignore")
    group: int = Field(ge=1, le=4)
    count: int = Field(ge=0)


class LevelRow(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str
    levels: list[LevelCount]


class LevelAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rows: list[LevelRow]


class MonitoringCampaignRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    title: str
    held_on: str


class MonitoringCampaigns(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[MonitoringCampaignRef]


class MonitoringScore(BaseModel):
    model_config = ConfigDict(extra="ignore")
    municipality: str
    total: float
    total_percent: float
    band: str


class MonitoringScores(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[MonitoringScore]
    next_cursor: str | None = None


class MonitoringBand(BaseModel):
    model_config = ConfigDict(extra="ignore")
    band: str
    label: str


class MonitoringVocabulary(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bands: list[MonitoringBand]


class MonitoringPicture(BaseModel):
    """The region's latest monitoring campaign, its scores by municipality and the bands' Russian labels."""

    campaign: MonitoringCampaignRef
    scores: dict[str, MonitoringScore]
    band_labels: dict[str, str]


NAMED_MUNICIPALITIES = TypeAdapter(list[NamedMunicipality])


class SummarySources:
    """What the active's summary reads from the assessment and audit services; each read fails on its own
    (Unavailable), so that only its part of the summary is unavailable."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def _get(self, path: str, region: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return await self.gateway.json("GET", path, params=params, retries=1, region=region)
        except UpstreamError as e:
            raise Unavailable(f"{path} answered {e.status}") from e
        except AppError as e:
            raise Unavailable(f"{path} is unavailable") from e

    async def municipalities(self, region: str) -> dict[str, str]:
        """The region's municipalities from the directory: code -> name."""
        body = await self._get(MUNICIPALITIES_PATH, region)
        try:
            rows = NAMED_MUNICIPALITIES.validate_python(listing_items(body))
        except ValidationError as e:
            raise Unavailable("the directory answered municipalities of an unexpected shape") from e
        return {r.code: r.name for r in rows if r.region in (None, region)}

    async def _levels(self, region: str, params: dict[str, Any]) -> list[LevelRow]:
        body = await self._get(LEVELS_PATH, region, params)
        try:
            return LevelAnswer.model_validate(body).rows
        except ValidationError as e:
            raise Unavailable("the assessment service answered levels of an unexpected shape") from e

    async def group_counts(self, region: str) -> dict[tuple[str, str], dict[int, int]]:
        """Teachers per (subject, municipality) and support group, each counted once per subject with their
        latest result: the subjects with results first, then each subject by municipality."""
        subjects = [r.key for r in await self._levels(region, {"group_by": "subject"})]
        out: dict[tuple[str, str], dict[int, int]] = {}
        for subject in subjects:
            for row in await self._levels(region, {"group_by": "municipality", "subject": subject}):
                groups = out.setdefault((subject, row.key), {})
                for lv in row.levels:
                    groups[lv.group] = groups.get(lv.group, 0) + lv.count
        return out

    async def monitoring(self, region: str) -> MonitoringPicture | None:
        """The latest monitoring campaign of the region with its scores (None when the region has none)."""
        body = await self._get(MONITORING_CAMPAIGNS_PATH, region, {"limit": 1})
        try:
            campaigns = MonitoringCampaigns.model_validate(body).items
        except ValidationError as e:
            raise Unavailable("the audit service answered campaigns of an unexpected shape") from e
        if not campaigns:
            return None
        campaign = campaigns[0]
        scores: dict[str, MonitoringScore] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            body = await self._get(MONITORING_SCORES_PATH.format(campaign_id=campaign.id), region, params)
            try:
                page = MonitoringScores.model_validate(body)
            except ValidationError as e:
                raise Unavailable("the audit service answered scores of an unexpected shape") from e
            scores.update({s.municipality: s for s in page.items})
            cursor = page.next_cursor
            if not cursor or not page.items:
                break
        try:
            vocabulary = MonitoringVocabulary.model_validate(await self._get(MONITORING_VOCABULARY_PATH, region))
        except ValidationError as e:
            raise Unavailable("the audit service answered bands of an unexpected shape") from e
        labels = {b.band: b.label for b in vocabulary.bands}
        return MonitoringPicture(campaign=campaign, scores=scores, band_labels=labels)
