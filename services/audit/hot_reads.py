"""The audit service's hot single-object reads (kit.hotread), declared once: GET /audits/{id}.

One statement: the audit's row by id with its reviews (in the order they were first written) and its
delivery as JSON beside it, so the read is one round trip and one snapshot (the ORM path reads the three
in one READ COMMITTED transaction, statement by statement). Shaped by the very function the documented
endpoint uses (`service.audits.view_of`); the timestamps the JSON carries as text are read back into
dates by the response model, so the answer is the endpoint's."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import JSON, Select, func, literal_column, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from starlette.datastructures import State

from kit.hotread import HotRead, RowRead, operation_of, scope_rule
from services.audit.api import audits as audits_api
from services.audit.config import AuditSettings
from services.audit.models import audits, route_outbox
from services.audit.repository import delivery_query, reviews_query
from services.audit.service.audits import view_of


def _as_json(query: Select[Any], name: str, *, many: bool) -> Any:
    """`query`'s rows (correlated to the audit's row) as one JSON value: an array of objects (empty when
    none) or one object (or null)."""
    rows = query.correlate(audits).subquery(name)
    obj = func.to_json(literal_column(name))  # json, not jsonb: written as text once, sent as is
    if many:
        agg = func.coalesce(func.json_agg(aggregate_order_by(obj, rows.c.id)), literal_column("'[]'::json"))
        return type_coerce(select(agg).select_from(rows).scalar_subquery(), JSON)
    return type_coerce(select(obj).select_from(rows).scalar_subquery(), JSON)


# The same queries the documented endpoint's repository runs, correlated to the audit's row.
REVIEWS = _as_json(reviews_query(audits.c.id).order_by(None), "review", many=True).label("iom_reviews")
DELIVERY = _as_json(
    delivery_query(audits.c.id).with_only_columns(*(c for c in route_outbox.c if c.name != "payload")),
    "delivery",
    many=False,
).label("iom_delivery")


async def _view(state: State, conn: asyncpg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    settings: AuditSettings = state.settings
    return view_of(row, row.pop("iom_reviews"), row.pop("iom_delivery"), settings.group_rules())


def hot_reads() -> list[HotRead]:
    return [
        RowRead(
            operation_of(audits_api.router, audits_api.get_audit),
            columns=list(audits.c),
            related=[REVIEWS, DELIVERY],
            key=audits.c.id,
            # services.audit.repository.audit_scope_clause, over the row
            visible=scope_rule(municipality="municipality", organisation="organisation", teacher="teacher_id"),
            present=_view,
        )
    ]
