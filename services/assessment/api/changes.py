"""The change feed: every stored or changed result, for the routes service and other consumers."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from kit.db import DbSession
from kit.errors import problem_responses
from kit.jsonutil import dumps
from kit.pagination import MAX_LIMIT
from services.assessment.auth import FeedReader
from services.assessment.result_schemas import ChangePage
from services.assessment.service.changes import MAX_PARTITIONS, changes_page, feed_partition

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
    principal: FeedReader,
    session: DbSession,
    after: str | None = Query(default=None, max_length=200, description="`next_cursor` of the previous page"),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
    partition: int | None = Query(default=None, ge=0, description="the part of the feed to read (0 .. partitions-1)"),
    partitions: int = Query(default=1, ge=1, le=MAX_PARTITIONS, description="how many parts the feed is split into"),
) -> Response:
    page = await changes_page(session, principal, after, limit, feed_partition(partition, partitions))
    # Serialised directly: validating 500 built items against the response model cost more than building them.
    return Response(dumps(page), media_type="application/json")
