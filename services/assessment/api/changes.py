"""The change feed: every stored or changed result, for the routes service and other consumers."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import FieldError, Forbidden, ValidationFailed, problem_responses
from kit.jsonutil import dumps
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.repositories.results import ResultRepository
from services.assessment.result_schemas import ChangePage
from services.assessment.views import present_result

router = APIRouter(prefix="/api/v1/assessment", tags=["changes"], responses=problem_responses(401, 403, 422))

FEED_DOC = """Results stored or changed after `after`, oldest first. For services and regional roles.

- Start without `after`; keep the `next_cursor` of each page (also when `items` is empty) and pass it
  as `after` next time. The cursor is **opaque** and stays valid across restarts of either side.
- Delivery is **at least once**: a consumer that crashes before saving the cursor gets the same
  items again. Deduplicate by (`teacher_id`, `campaign_id`, `result_version`). An item shows the
  result as it is now, so an older announcement may already carry a newer version; the later
  announcement of that version then repeats it.
- **Nothing committed is skipped and nothing rolled back is announced**: changes are written in the
  transaction that stores the results, and a change becomes visible only once every transaction
  that started before it has ended (a long-running upload delays the feed; it never reorders it).
- Each item carries what a route needs without further calls: the teacher (registry fields: this feed
  is for services and regional roles only) and placement, campaign,
  subject, level and group, every competency with its band and explanation, deficits, growth points
  and strengths, the framework version and the result version."""


@router.get("/changes", response_model=ChangePage, summary="Read the change feed of results", description=FEED_DOC)
async def list_changes(
    principal: CurrentPrincipal,
    session: DbSession,
    after: str | None = Query(default=None, max_length=200, description="`next_cursor` of the previous page"),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> Response:
    if not principal.is_regional:
        raise Forbidden("the change feed is for services and regional roles", code="role-forbidden")
    position = decode_cursor(after, 2) or [0, 0]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in position):
        raise ValidationFailed(
            "invalid cursor",
            errors=[FieldError(loc=["query", "after"], code="invalid-cursor", message="cursor is not valid")],
        )
    rows = await ResultRepository(session).changes(principal, (position[0], position[1]), limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    fws = FrameworkRepository(session)
    items = []
    for r in rows:
        p = present_result(r, await fws.scoring(r["framework_id"]))
        items.append(
            {
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
        )
    next_cursor = encode_cursor([rows[-1]["txid"], rows[-1]["seq"]]) if rows else encode_cursor(position)
    # Serialised directly: validating 500 built items against the response model cost more than building them.
    return Response(
        dumps({"items": items, "next_cursor": next_cursor, "has_more": has_more}), media_type="application/json"
    )
