"""Every query of the audit service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, delete, func, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.db import scope_condition
from services.audit.models import (
    audit_reviews,
    audits,
    checklists,
    monitoring_campaigns,
    monitoring_scores,
    route_outbox,
)
from services.audit.monitoring import ScoreRow
from services.audit.vocab import CRITERIA_COUNT, Step

STEP_COLUMNS = [s.value for s in Step]


def audit_scope_clause(principal: Principal) -> Any:
    """SQL condition limiting audits to what the principal may see (matches Principal.sees)."""
    return scope_condition(
        principal,
        region=audits.c.region,
        municipality=audits.c.municipality,
        organisation=audits.c.organisation,
        teacher=audits.c.teacher_id,
    )


def _date_bounds(col: Any, date_from: date | None, date_to: date | None) -> list[Any]:
    conds = []
    if date_from is not None:
        conds.append(col >= datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to is not None:
        conds.append(col < datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC))
    return conds


def reviews_query(audit_id: Any) -> Select[Any]:
    """An audit's reviews in the order they were first written (also the hot read's, services.audit.hot_reads)."""
    return select(audit_reviews).where(audit_reviews.c.audit_id == audit_id).order_by(audit_reviews.c.id)


def delivery_query(audit_id: Any) -> Select[Any]:
    """The delivery of an audit's news to the routes service (its outbox row)."""
    return select(route_outbox).where(route_outbox.c.audit_id == audit_id)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        stmt = pg_insert(audits).values(**values).on_conflict_do_nothing(index_elements=[audits.c.route_id])
        row = (await self.s.execute(stmt.returning(*audits.c))).first()
        return dict(row._mapping) if row else {}

    async def get(self, principal: Principal, audit_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        q: Select[Any] = select(audits).where(audits.c.id == audit_id, audit_scope_clause(principal))
        if lock:
            q = q.with_for_update()
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def find_by_route(self, principal: Principal, route_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(audits.c.id).where(audits.c.route_id == route_id, audit_scope_clause(principal))
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def route_taken(self, route_id: uuid.UUID) -> bool:
        q = select(func.count()).select_from(audits).where(audits.c.route_id == route_id)
        return bool((await self.s.execute(q)).scalar_one())

    async def list_audits(
        self,
        principal: Principal,
        *,
        municipality: str | None,
        organisation: str | None,
        status: str | None,
        group: int | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = (
            select(
                audits.c.id,
                audits.c.route_id,
                audits.c.teacher_id,
                audits.c.municipality,
                audits.c.organisation,
                audits.c.subject,
                audits.c.group,
                audits.c.procedure,
                audits.c.status,
                audits.c.total,
                audits.c.created_at,
                audits.c.completed_at,
                func.coalesce(route_outbox.c.status, "not_started").label("delivery_status"),
            )
            .select_from(audits.outerjoin(route_outbox, route_outbox.c.audit_id == audits.c.id))
            .where(audit_scope_clause(principal))
        )
        if municipality:
            q = q.where(audits.c.municipality == municipality)
        if organisation:
            q = q.where(audits.c.organisation == organisation)
        if status:
            q = q.where(audits.c.status == status)
        if group:
            q = q.where(audits.c.group == group)
        if after is not None:
            q = q.where(
                tuple_(audits.c.created_at, audits.c.id)
                < tuple_(literal(datetime.fromisoformat(after[0])), literal(uuid.UUID(after[1])))
            )
        q = q.order_by(audits.c.created_at.desc(), audits.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def reviews(self, audit_id: uuid.UUID) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.s.execute(reviews_query(audit_id))]

    async def upsert_review(self, values: dict[str, Any]) -> None:
        stmt = pg_insert(audit_reviews).values(**values)
        stmt = stmt.on_conflict_do_update(
            constraint="uq_audit_reviews_audit_id_auditor",
            set_={
                "auditor_name": stmt.excluded.auditor_name,
                "scores": stmt.excluded.scores,
                "comments": stmt.excluded.comments,
                "second_check": stmt.excluded.second_check,
                "updated_at": func.now(),
            },
        )
        await self.s.execute(stmt)

    async def bump(self, audit_id: uuid.UUID, expected_version: int | None, values: dict[str, Any]) -> int | None:
        """Conditional update of an open audit; the new version, or None when it changed or closed."""
        cond = [audits.c.id == audit_id, audits.c.status == "open"]
        if expected_version is not None:
            cond.append(audits.c.version == expected_version)
        stmt = update(audits).where(*cond).values(**values, version=audits.c.version + 1).returning(audits.c.version)
        r = (await self.s.execute(stmt)).first()
        return int(r.version) if r else None

    async def delivery(self, audit_id: uuid.UUID) -> dict[str, Any] | None:
        r = (await self.s.execute(delivery_query(audit_id))).first()
        return dict(r._mapping) if r else None

    async def add_outbox(self, audit_id: uuid.UUID, route_id: uuid.UUID, payload: dict[str, Any]) -> None:
        await self.s.execute(pg_insert(route_outbox).values(audit_id=audit_id, route_id=route_id, payload=payload))

    async def retry_delivery(self, audit_id: uuid.UUID) -> bool:
        stmt = (
            update(route_outbox)
            .where(route_outbox.c.audit_id == audit_id, route_outbox.c.status != "delivered")
            .values(status="pending", next_attempt_at=func.now(), locked_until=None)
            .returning(route_outbox.c.id)
        )
        return (await self.s.execute(stmt)).first() is not None

    async def stats(
        self,
        principal: Principal,
        *,
        by: str,
        municipality: str | None,
        date_from: date | None,
        date_to: date | None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Per-criterion averages over completed audits (auditors: over their own reviews)."""
        conds = [
            audit_scope_clause(principal),
            audits.c.status == "completed",
            *_date_bounds(audits.c.completed_at, date_from, date_to),
        ]
        if municipality:
            conds.append(audits.c.municipality == municipality)
        source: Any
        if by == "auditor":
            scores = audit_reviews.c.scores
            source = audits.join(audit_reviews, audit_reviews.c.audit_id == audits.c.id)
            key = audit_reviews.c.auditor
            label: Any = func.max(audit_reviews.c.auditor_name)
        else:
            scores = audits.c.final_scores
            source = audits
            key = audits.c.municipality if by == "municipality" else audits.c.organisation
            label = literal(None)
        total = sum((scores[i] for i in range(2, CRITERIA_COUNT + 1)), scores[1])
        aggregates = [
            func.count().label("audits"),
            func.avg(total).label("average_total"),
            *(func.avg(scores[i]).label(f"c{i}") for i in range(1, CRITERIA_COUNT + 1)),
        ]
        overall_q = select(*aggregates).select_from(source).where(*conds)
        overall = dict((await self.s.execute(overall_q)).one()._mapping)
        group_q = (
            select(key.label("key"), label.label("label"), *aggregates)
            .select_from(source)
            .where(*conds)
            .group_by(key)
            .order_by(key)
        )
        groups = [dict(r._mapping) for r in await self.s.execute(group_q)]
        return overall, groups


class OutboxRepository:
    """Queries of the delivery worker; each call runs in a transaction of its own."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def claim_due(self, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
        """Lease up to `limit` due rows (skipping rows another worker holds) and return them."""
        due = (
            select(route_outbox.c.id)
            .where(
                route_outbox.c.status == "pending",
                route_outbox.c.next_attempt_at <= func.now(),
                or_(route_outbox.c.locked_until.is_(None), route_outbox.c.locked_until < func.now()),
            )
            .order_by(route_outbox.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(route_outbox)
            .where(route_outbox.c.id.in_(due))
            .values(locked_until=func.now() + text(f"interval '{float(lease_seconds)} seconds'"))
            .returning(
                route_outbox.c.id,
                route_outbox.c.audit_id,
                route_outbox.c.route_id,
                route_outbox.c.payload,
                route_outbox.c.attempts,
            )
        )
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def record(
        self,
        row_id: int,
        *,
        status: str,
        http_status: int | None,
        error: str | None,
        retry_in_seconds: float | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "attempts": route_outbox.c.attempts + 1,
            "last_attempt_at": func.now(),
            "last_status": http_status,
            "last_error": error,
            "locked_until": None,
        }
        if status == "delivered":
            values["delivered_at"] = func.now()
        if retry_in_seconds is not None:
            values["next_attempt_at"] = func.now() + text(f"interval '{float(retry_in_seconds)} seconds'")
        await self.s.execute(update(route_outbox).where(route_outbox.c.id == row_id).values(**values))

    async def pending_count(self) -> int:
        q = select(func.count()).select_from(route_outbox).where(route_outbox.c.status == "pending")
        return int((await self.s.execute(q)).scalar_one())


class MonitoringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _campaign_columns(self) -> list[Any]:
        count = (
            select(func.count())
            .where(monitoring_scores.c.campaign_id == monitoring_campaigns.c.id)
            .correlate(monitoring_campaigns)
            .scalar_subquery()
        )
        return [*monitoring_campaigns.c, count.label("municipalities")]

    async def create_campaign(self, values: dict[str, Any]) -> dict[str, Any] | None:
        stmt = (
            pg_insert(monitoring_campaigns)
            .values(**values)
            .on_conflict_do_nothing(constraint="uq_monitoring_campaigns_region_code")
            .returning(*monitoring_campaigns.c)
        )
        r = (await self.s.execute(stmt)).first()
        return {**dict(r._mapping), "municipalities": 0} if r else None

    async def get_campaign(self, region: str | None, campaign_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*self._campaign_columns()).where(monitoring_campaigns.c.id == campaign_id)
        if region:
            q = q.where(monitoring_campaigns.c.region == region)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def list_campaigns(
        self, region: str | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        q = select(*self._campaign_columns())
        if region:
            q = q.where(monitoring_campaigns.c.region == region)
        if after is not None:
            q = q.where(
                tuple_(monitoring_campaigns.c.held_on, monitoring_campaigns.c.id)
                < tuple_(literal(date.fromisoformat(after[0])), literal(uuid.UUID(after[1])))
            )
        q = q.order_by(monitoring_campaigns.c.held_on.desc(), monitoring_campaigns.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def previous_campaign(self, campaign: dict[str, Any]) -> dict[str, Any] | None:
        """The explicit previous campaign, else the region's latest one held before this one."""
        if campaign.get("previous_id"):
            return await self.get_campaign(campaign["region"], campaign["previous_id"])
        q = (
            select(*self._campaign_columns())
            .where(
                monitoring_campaigns.c.region == campaign["region"],
                monitoring_campaigns.c.id != campaign["id"],
                or_(
                    monitoring_campaigns.c.held_on < campaign["held_on"],
                    and_(
                        monitoring_campaigns.c.held_on == campaign["held_on"],
                        monitoring_campaigns.c.created_at < campaign["created_at"],
                    ),
                ),
            )
            .order_by(monitoring_campaigns.c.held_on.desc(), monitoring_campaigns.c.created_at.desc())
            .limit(1)
        )
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def latest_campaign(self, region: str | None, *, on_or_before: date | None) -> dict[str, Any] | None:
        """The latest campaign that has scores (held on or before the date)."""
        q = select(*self._campaign_columns()).where(
            select(monitoring_scores.c.campaign_id)
            .where(monitoring_scores.c.campaign_id == monitoring_campaigns.c.id)
            .exists()
        )
        if region:
            q = q.where(monitoring_campaigns.c.region == region)
        if on_or_before is not None:
            q = q.where(monitoring_campaigns.c.held_on <= on_or_before)
        q = q.order_by(monitoring_campaigns.c.held_on.desc(), monitoring_campaigns.c.created_at.desc()).limit(1)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def upsert_scores(self, campaign_id: uuid.UUID, rows: Sequence[ScoreRow], *, replace: bool) -> dict[str, int]:
        """COPY the rows into a temporary table and upsert them, in the request's transaction."""
        columns = ["campaign_id", "municipality", "municipality_name", *STEP_COLUMNS]
        # This statement also opens the transaction on the connection the COPY below reuses.
        await self.s.execute(
            text(
                "CREATE TEMP TABLE tmp_monitoring_scores (LIKE audit.monitoring_scores INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
        )
        conn = await self.s.connection()
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        records = [(campaign_id, r.municipality, r.municipality_name, *(r.points[s] for s in Step)) for r in rows]
        await driver.copy_records_to_table("tmp_monitoring_scores", records=records, columns=columns)
        cols = ", ".join(columns)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
        result = await self.s.execute(
            text(
                f"INSERT INTO audit.monitoring_scores ({cols}, uploaded_at) "
                f"SELECT {cols}, now() FROM tmp_monitoring_scores "
                f"ON CONFLICT (campaign_id, municipality) DO UPDATE SET {updates}, uploaded_at = now() "
                "RETURNING (xmax = 0) AS inserted"
            )
        )
        flags = [bool(r.inserted) for r in result]
        removed = 0
        if replace:
            stmt = delete(monitoring_scores).where(
                monitoring_scores.c.campaign_id == campaign_id,
                monitoring_scores.c.municipality.not_in([r.municipality for r in rows]),
            )
            removed = (await self.s.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]
        await self.s.execute(text("DROP TABLE tmp_monitoring_scores"))
        return {"inserted": sum(flags), "updated": len(flags) - sum(flags), "removed": removed}

    async def scores(
        self,
        campaign_id: uuid.UUID,
        *,
        municipality: str | None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[ScoreRow]:
        q = select(monitoring_scores).where(monitoring_scores.c.campaign_id == campaign_id)
        if municipality is not None:
            q = q.where(monitoring_scores.c.municipality == municipality)
        if after is not None:
            q = q.where(monitoring_scores.c.municipality > after)
        q = q.order_by(monitoring_scores.c.municipality)
        if limit is not None:
            q = q.limit(limit)
        out = []
        for r in await self.s.execute(q):
            m = r._mapping
            out.append(
                ScoreRow(
                    municipality=m["municipality"],
                    municipality_name=m["municipality_name"],
                    points={s: Decimal(m[s.value]) for s in Step},
                )
            )
        return out


class ChecklistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, region: str | None, municipality: str) -> dict[str, Any] | None:
        q = select(checklists).where(checklists.c.municipality == municipality)
        if region:
            q = q.where(checklists.c.region == region)
        r = (await self.s.execute(q.order_by(checklists.c.region).limit(1))).first()
        return dict(r._mapping) if r else None

    async def upsert(self, values: dict[str, Any], expected_version: int | None) -> dict[str, Any] | None:
        """Insert or replace; None when `expected_version` no longer matches."""
        ins = pg_insert(checklists).values(**values)
        where = None if expected_version is None else checklists.c.version == expected_version
        stmt = ins.on_conflict_do_update(
            index_elements=[checklists.c.region, checklists.c.municipality],
            set_={
                "documents": ins.excluded.documents,
                "directions": ins.excluded.directions,
                "updated_by": ins.excluded.updated_by,
                "updated_at": func.now(),
                "version": checklists.c.version + 1,
            },
            where=where,
        ).returning(*checklists.c)
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def list_checklists(
        self, region: str | None, *, municipality: str | None, after: str | None, limit: int | None
    ) -> list[dict[str, Any]]:
        q = select(checklists)
        if region:
            q = q.where(checklists.c.region == region)
        if municipality is not None:
            q = q.where(checklists.c.municipality == municipality)
        if after is not None:
            q = q.where(checklists.c.municipality > after)
        q = q.order_by(checklists.c.municipality, checklists.c.region)
        if limit is not None:
            q = q.limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]
