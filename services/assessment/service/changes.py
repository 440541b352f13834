"""The change feed of results: one page of items after a cursor, each complete for a route."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import FieldError, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_int
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.results import ResultRepository
from services.assessment.views import present_result

# The most parts the feed may be split into (a consumer asks for one part of P).
MAX_PARTITIONS = 1024


def feed_position(after: str | None) -> tuple[int, int]:
    """The (transaction, sequence) position an `after` cursor names; 422 when it is not one."""
    position = decode_cursor(after, [key_int, key_int], param="after") or [0, 0]
    return position[0], position[1]


def feed_item(r: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """One item of the feed from a change row and its presented result."""
    return {
        "change_id": encode_cursor([r["txid"], r["seq"]]),
        "changed_at": r["changed_at"],
        "result_id": r["id"],
        "result_version": r["version"],
        "teacher_id": r["teacher_id"],
        "external_id": r["external_id"],
        "full_name": r["full_name"],
        "position": r["position"],
        "teacher_subjects": r["teacher_subjects"],
        "qualification_category": r["qualification_category"],
        "experience_years": r["experience_years"],
        "depersonalised": r["depersonalised_at"] is not None,
        "region": r["region"],
        "municipality": r["municipality"],
        "organisation": r["organisation"],
        "campaign_id": r["campaign_id"],
        "campaign_source": r["campaign_source"],
        "assessed_on": r["assessed_on"],
        "subject": r["subject"],
        "framework_code": r["framework_code"],
        "framework_version": r["framework_version"],
        "instrument": r["instrument"],
        "total_points": p["total_points"],
        "max_points": p["max_points"],
        "percent": p["percent"],
        "level": p["level"],
        "group": p["group"],
        "competencies": p["competencies"],
        # Codes only: the full explanations are in `competencies` (a page stays a third of the size).
        "deficits": [c["competency"] for c in p["deficits"]],
        "growth_points": [c["competency"] for c in p["growth_points"]],
        "strengths": [c["competency"] for c in p["strengths"]],
    }


def feed_partition(partition: int | None, partitions: int) -> tuple[int, int] | None:
    """The (i, P) partition asked for; None for the whole feed; 422 when i is not below P."""
    if partition is None:
        return None
    if partition >= partitions:
        raise ValidationFailed(
            "Номер части ленты должен быть меньше числа частей",
            errors=[
                FieldError(
                    loc=["query", "partition"],
                    code="invalid-partition",
                    message="Укажите номер части меньше числа частей (счёт идёт с нуля)",
                )
            ],
        )
    return partition, partitions


async def changes_page(
    session: AsyncSession,
    principal: Principal,
    after: str | None,
    limit: int,
    partition: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The items after `after` (at most `limit`), the cursor to pass next time, and whether more wait.
    With `partition` (i, P): only the teachers of partition i of P, in the same order."""
    position = feed_position(after)
    rows = await ResultRepository(session).changes(principal, position, limit + 1, partition)
    has_more = len(rows) > limit
    rows = rows[:limit]
    fws = FrameworkRepository(session)
    items = [feed_item(r, present_result(r, await fws.scoring(r["framework_id"]))) for r in rows]
    next_cursor = encode_cursor([rows[-1]["txid"], rows[-1]["seq"]]) if rows else encode_cursor(list(position))
    return {"items": items, "next_cursor": next_cursor, "has_more": has_more}
