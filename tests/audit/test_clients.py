"""The audit service's adapters against the real services through the gateway: paths, parameters, shapes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from kit.client import GatewayClient
from kit.settings import CommonSettings
from services.audit import clients
from services.audit.clients import RouteStats, Upstream
from tests.audit.test_analytics import region_with_routes
from tests.harness import TEST_ENV, Stack
from tests.region import MUN_A, MUN_B, REGION, as_regional


@pytest.fixture
async def upstream(live: Stack) -> AsyncIterator[Upstream]:
    """The adapters' client as the audit service builds it, with the test stack's secret and gateway."""
    common = CommonSettings(
        jwt_secret=TEST_ENV["JWT_SECRET"], internal_jwt_secret=TEST_ENV["INTERNAL_JWT_SECRET"], gateway_url=live.gateway
    )
    up = Upstream(GatewayClient(common, caller="audit-test"))
    try:
        yield up
    finally:
        await up.aclose()


class TestAdapters:
    async def test_counts_are_read_with_their_period_and_municipality(
        self, api: httpx.AsyncClient, upstream: Upstream
    ) -> None:
        await region_with_routes(api)
        stats = await clients.fetch_route_stats(
            upstream, region=REGION, municipality=None, date_from=None, date_to=None
        )
        direct = await api.get("/api/v1/routes/stats", headers=as_regional())
        assert stats == RouteStats.model_validate(direct.json()) and stats.routes_created == 3
        in_a = await clients.fetch_route_stats(
            upstream, region=REGION, municipality=MUN_A, date_from=None, date_to=None
        )
        assert in_a.routes_created == 2
        later = await clients.fetch_route_stats(
            upstream, region=REGION, municipality=None, date_from=date(2100, 1, 1), date_to=None
        )
        assert later.routes_created == 0
        levels = await clients.fetch_teacher_levels(
            upstream, region=REGION, municipality=None, date_from=None, date_to=None
        )
        assert (levels.teachers_total, levels.teachers_assessed, levels.basic_or_higher) == (5, 3, 2)
        # A period inside one calendar year asks for that year's campaigns only.
        in_2025 = await clients.fetch_teacher_levels(
            upstream, region=REGION, municipality=None, date_from=date(2025, 1, 1), date_to=date(2025, 12, 31)
        )
        assert in_2025.teachers_assessed == 0 and in_2025.teachers_total == 5

    async def test_route_outcomes_results_and_municipalities_are_walked(
        self, api: httpx.AsyncClient, upstream: Upstream
    ) -> None:
        await region_with_routes(api)
        outcomes = [o async for o in clients.iter_route_outcomes(upstream, region=REGION, municipality=None)]
        assert len(outcomes) == 3 and {o.group for o in outcomes} <= {1, 2, 3, 4}
        assert sum(1 for o in outcomes if o.status == "completed" and o.completed_at is not None) == 1
        results = [r async for r in clients.iter_results(upstream, region=REGION, municipality=MUN_A)]
        assert len(results) == 2 and all(r.municipality == MUN_A for r in results)
        codes = await clients.fetch_municipality_codes(upstream, region=REGION)
        assert {MUN_A, MUN_B} <= set(codes)

    async def test_route_is_read_and_a_missing_one_is_none(self, api: httpx.AsyncClient, upstream: Upstream) -> None:
        await region_with_routes(api)
        listed = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"][0]
        route = await clients.fetch_route(upstream, uuid.UUID(str(listed["id"])))
        assert route is not None and str(route.id) == str(listed["id"]) and route.region == REGION
        assert len(route.self_check_scores) == 10
        assert await clients.fetch_route(upstream, uuid.uuid4()) is None

    async def test_refused_mark_audited_is_permanent(self, api: httpx.AsyncClient, upstream: Upstream) -> None:
        await region_with_routes(api)
        draft = next(
            r
            for r in (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
            if r["status"] != "completed"
        )
        refused = await clients.mark_route_audited(
            upstream, uuid.UUID(str(draft["id"])), audit_id=uuid.uuid4(), total=12, completed_at=datetime.now(UTC)
        )
        assert refused.permanent and not refused.delivered and refused.status == 409
        assert refused.error is not None and refused.error.startswith("routes answered 409 (")
