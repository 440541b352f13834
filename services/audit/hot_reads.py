"""The audit service's hot single-object reads (kit.hotread), declared once: GET /audits/{id}.

The audit's row by id, then on the same connection its reviews and its delivery (each statement sees
the committed data as it starts, as in the ORM path's READ COMMITTED transaction), shaped by the very
function the documented endpoint uses (`service.audits.view_of`)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import bindparam
from starlette.datastructures import State

from kit.hotread import HotRead, RowRead, Statement, operation_of, scope_rule
from services.audit.api import audits as audits_api
from services.audit.config import AuditSettings
from services.audit.models import audits
from services.audit.repository import delivery_query, reviews_query
from services.audit.service.audits import view_of

REVIEWS = Statement(reviews_query(bindparam("audit_id")))
DELIVERY = Statement(delivery_query(bindparam("audit_id")))


async def _view(state: State, conn: asyncpg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    settings: AuditSettings = state.settings
    reviews = await REVIEWS.all(conn, row["id"])
    return view_of(row, reviews, await DELIVERY.one(conn, row["id"]), settings.group_rules())


def hot_reads() -> list[HotRead]:
    return [
        RowRead(
            operation_of(audits_api.router, audits_api.get_audit),
            columns=list(audits.c),
            key=audits.c.id,
            # services.audit.repository.audit_scope_clause, over the row
            visible=scope_rule(municipality="municipality", organisation="organisation", teacher="teacher_id"),
            present=_view,
        )
    ]
