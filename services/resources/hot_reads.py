"""The resources service's hot single-object reads (kit.hotread), declared once: GET /resources/{id}."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.datastructures import State

from kit.hotread import HotRead, RowRead, operation_of, region_rule
from services.resources.api import resources as resources_api
from services.resources.models import resources
from services.resources.repository import RESOURCE_COLUMNS
from services.resources.service.resources import with_free


async def _free(state: State, conn: asyncpg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    return with_free(row)


def hot_reads() -> list[HotRead]:
    return [
        RowRead(
            operation_of(resources_api.router, resources_api.get_resource),
            columns=RESOURCE_COLUMNS,
            key=resources.c.id,
            visible=region_rule(),  # ResourceRepository.get: the caller's region
            present=_free,
        )
    ]
