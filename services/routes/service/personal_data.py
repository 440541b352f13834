"""Depersonalised teachers (announced on the assessment change feed): their routes name them no more."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.routes.depersonalising import depersonalised_fields, scrub_content
from services.routes.personal_data_repository import PersonalDataRepository
from services.routes.repository import RouteRepository


async def depersonalise_routes(session: AsyncSession, external_ids: Mapping[str, str]) -> int:
    """Remove the name and personal text from every route (and content version) of these teachers.

    `external_ids` maps a teacher id to the opaque external id the registry gives them now. Routes that
    already name nobody are left alone (the feed may announce a teacher again); returns routes changed."""
    if not external_ids:
        return 0
    repo = PersonalDataRepository(session)
    changed = 0
    rows = await repo.routes_of(uuid.UUID(t) for t in external_ids)
    for row in rows:
        values = depersonalised_fields(row, external_ids[str(row["teacher_id"])])
        if values:
            # Through update_fields: the version moves, so a cached copy (If-None-Match) is not answered 304.
            await RouteRepository(session).update_fields(row["id"], values)
            changed += 1
    for v in await repo.versions_of(r["id"] for r in rows):
        scrubbed = scrub_content(v["content"])
        if scrubbed != v["content"]:
            await repo.replace_version_content(v["route_id"], v["content_version"], scrubbed)
    return changed
