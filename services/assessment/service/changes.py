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
# A page of partition i of P reads the next WINDOW_PER_ITEM * P * limit changes of the whole feed (at most
# MAX_WINDOW): about two pages' worth of the partition's own, since teachers hash evenly.
WINDOW_PER_ITEM = 2
MAX_WINDOW = 100_000


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

    With `partition` (i, P): only the teachers of partition i of P, in the same order. Such a page reads a
    window of the feed, the next WINDOW_PER_ITEM * P * `limit` changes (about WINDOW_PER_ITEM pages of the
    partition), not everything after the cursor: when the window holds fewer of the partition's changes,
    the page is shorter (even empty) and its cursor is the window's end, so every page costs the same
    however long the feed (reading a partition was quadratic in its length)."""
    position = feed_position(after)
    repo = ResultRepository(session)
    end, window_full = None, False
    if partition is not None and partition[1] > 1:
        end, window_full = await repo.window_end(position, min(WINDOW_PER_ITEM * partition[1] * limit, MAX_WINDOW))
        if end is None:
            return {"items": [], "next_cursor": encode_cursor(list(position)), "has_more": False}
    rows = await repo.changes(principal, position, limit + 1, partition, until=end)
    more_rows = len(rows) > limit
    rows = rows[:limit]
    fws = FrameworkRepository(session)
    items = [feed_item(r, present_result(r, await fws.scoring(r["framework_id"]))) for r in rows]
    if more_rows or end is None:
        last = (rows[-1]["txid"], rows[-1]["seq"]) if rows else position
    else:
        last = end  # every change up to the window's end is on this page or of another partition
    return {"items": items, "next_cursor": encode_cursor(list(last)), "has_more": more_rows or window_full}
