"""The tutor of a route (regulation step 7): a registered teacher of the route's school, chosen by the school
deputy at approval, who reads the route and records its control-point results.

Who may be the tutor (exists in the assessment registry, same school, not the route's own teacher) is
`tutor_problem`; whether a caller is the tutor of a route is `is_tutor` (its SQL mirror is
services.routes.repository.tutor_clause). The registry is read through the gateway (`read_candidate`)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from kit.auth import Principal, Role
from kit.client import GatewayClient, UpstreamError
from kit.errors import FieldError, UpstreamUnavailable, ValidationFailed

LOC: list[str | int] = ["body", "tutor", "teacher_id"]


class Candidate(BaseModel):
    """A teacher of the registry (GET /teachers/{id}) as the tutor's check reads them."""

    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    full_name: str = ""
    region: str
    municipality: str
    organisation: str
    position: str = ""


async def read_candidate(client: GatewayClient, teacher_id: uuid.UUID, region: str) -> Candidate | None:
    """The teacher of the registry with this id in the route's region; None when there is none."""
    try:
        answer = await client.json("GET", f"/api/v1/teachers/{teacher_id}", region=region)
    except UpstreamError as e:
        if e.status == 404:
            return None
        raise UpstreamUnavailable(
            "Реестр педагогов не ответил: тьютора сейчас проверить нельзя", code="upstream-unavailable"
        ) from None
    return Candidate.model_validate(answer)


def tutor_problem(candidate: Candidate | None, route: dict[str, Any]) -> FieldError | None:
    """Why this teacher cannot tutor the route, or None when they can."""
    if candidate is None or candidate.region != route["region"]:
        return FieldError(loc=LOC, code="tutor-not-found", message="Такого педагога нет в реестре региона")
    if candidate.organisation != route["organisation"]:
        return FieldError(
            loc=LOC,
            code="tutor-other-school",
            message="Тьютором назначается педагог той же школы, что и автор маршрута",
        )
    if str(candidate.id) == str(route["teacher_id"]):
        return FieldError(
            loc=LOC, code="tutor-is-the-teacher", message="Педагог не может быть тьютором своего маршрута"
        )
    return None


def check_tutor(candidate: Candidate | None, route: dict[str, Any]) -> dict[str, Any]:
    """The route's `tutor` value for a fitting candidate (id, name, position); 422 saying why not otherwise."""
    problem = tutor_problem(candidate, route)
    if problem is not None or candidate is None:
        raise ValidationFailed("Тьютор не может быть назначен", errors=[problem] if problem else [])
    return {"teacher_id": str(candidate.id), "name": candidate.full_name, "position": candidate.position or None}


def tutor_id(tutor: Any) -> str | None:
    """The tutor's teacher id of a stored `tutor` value (a dict, or JSON bytes on the hot read path)."""
    if tutor is None:
        return None
    value = orjson.loads(tutor) if isinstance(tutor, bytes | bytearray | str) else tutor
    found = value.get("teacher_id") if isinstance(value, dict) else None
    return str(found) if found else None


def is_tutor(principal: Principal, region: str, tutor: Any) -> bool:
    """Whether the caller (a teacher's token) is the tutor of a route of this region."""
    if principal.role != Role.teacher or principal.teacher_id is None:
        return False
    if principal.region and principal.region != region:
        return False
    return tutor_id(tutor) == principal.teacher_id


# Besides the route's tutor, the school (its deputy) and the administrator record control-point results;
# the route's own teacher reports progress on the tasks and does not check it.
CONTROL_POINT_CHECKERS = frozenset({Role.school_admin, Role.admin})


def may_check_control_points(principal: Principal, route: dict[str, Any]) -> bool:
    """Whether the caller records the results of the route's control points."""
    return principal.role in CONTROL_POINT_CHECKERS or is_tutor(principal, route["region"], route["tutor"])
