"""Moving a route along the regional regulation (services.routes.workflow), and the audit's mark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.client import GatewayClient
from kit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from services.routes.authoring_schemas import ReflectionUpdate
from services.routes.content import self_check_of
from services.routes.labels import STATUS_RU
from services.routes.repository import RouteRepository
from services.routes.schemas import AuditedRequest, TransitionRequest
from services.routes.seats import SEATS_RELEASED_AT
from services.routes.service import seats
from services.routes.service.route_access import Change, load_route
from services.routes.tutors import check_tutor, read_candidate
from services.routes.webhooks import events as webhook_events
from services.routes.workflow import Action, Status, Transition, TransitionRefused, find_transition


def _transition(action: Action, status: Status, principal: Principal) -> Transition:
    try:
        return find_transition(action, status, principal)
    except TransitionRefused as e:
        if e.status == 403:
            raise Forbidden(str(e), code="transition-forbidden") from None
        raise Conflict(str(e), code="transition-not-allowed") from None


def _completion(body: TransitionRequest, row: dict[str, Any], values: dict[str, Any]) -> None:
    """Completion stores the route's products (links, files' metadata) and freezes its self-check; the
    reflection comes after the audit (regulation step 10)."""
    content = dict(row["content"])
    sections = dict(content["sections"])
    products = [e.model_dump(mode="json", exclude_none=True) for e in body.evidence or []]
    sections["reflection"] = {**sections.get("reflection", {}), "text": "", "products": products}
    content["sections"] = sections
    values["content"] = content
    values["completed_at"] = datetime.now(UTC)
    # Frozen here: the audit reads this self-check, and nobody changes it afterwards.
    values["self_check_at_completion"] = self_check_of({**row, "content": content})


def reflection_of(row: dict[str, Any]) -> str:
    """The teacher's reflection written into the route (empty until the teacher writes it after the audit)."""
    return str(((row["content"].get("sections") or {}).get("reflection") or {}).get("text") or "")


def _values(
    t: Transition, body: TransitionRequest, row: dict[str, Any], tutor: dict[str, Any] | None
) -> dict[str, Any]:
    """The columns a transition writes; 422 naming every missing piece of information."""
    values: dict[str, Any] = {"status": t.target.value}
    errors: list[FieldError] = []
    if t.needs_comment and not body.comment:
        errors.append(
            FieldError(
                loc=["body", "comment"], code="required", message="При возврате на доработку напишите комментарий"
            )
        )
    if t.action == Action.approve:
        values["tutor"] = tutor
    if t.action == Action.complete:
        if not body.evidence:
            errors.append(
                FieldError(
                    loc=["body", "evidence"],
                    code="required",
                    message="Приложите продукты: ссылки или сведения о файлах",
                )
            )
        elif not errors:
            _completion(body, row, values)
    if t.action == Action.archive and not reflection_of(row):
        raise Conflict(
            "Маршрут уходит в архив после рефлексии педагога, а она ещё не написана", code="reflection-missing"
        )
    if errors:
        raise ValidationFailed("Для этого шага не хватает сведений", errors=errors)
    return values


async def _tutor(
    t: Transition, body: TransitionRequest, row: dict[str, Any], client: GatewayClient
) -> dict[str, Any] | None:
    """At approval, the tutor the school deputy names, checked in the assessment registry."""
    if t.action != Action.approve:
        return None
    if body.tutor is None:
        raise ValidationFailed(
            "Для этого шага не хватает сведений",
            errors=[FieldError(loc=["body", "tutor"], code="required", message="При утверждении укажите тьютора")],
        )
    return check_tutor(await read_candidate(client, body.tutor.teacher_id, row["region"]), row)


async def transition(
    change: Change, principal: Principal, body: TransitionRequest, client: GatewayClient
) -> dict[str, Any]:
    """Take one step of the lifecycle (the role and the state decide whether it is allowed)."""
    repo, row = change.repo, change.row
    t = _transition(body.action, Status(row["status"]), principal)
    values = _values(t, body, row, await _tutor(t, body, row, client))
    updated = await change.update(values)
    await repo.add_event(
        row["id"],
        principal,
        t.action.value,
        from_status=t.source.value,
        to_status=t.target.value,
        comment=body.comment,
        content_version=updated["content_version"],
    )
    await webhook_events.status_changed(repo.s, updated, t.action.value, t.source.value, t.target.value)
    if change.seats and t.target in SEATS_RELEASED_AT:
        await seats.release_all(change.seats, row)
    return updated


async def write_reflection(change: Change, principal: Principal, body: ReflectionUpdate) -> dict[str, Any]:
    """The teacher's reflection on the products, once the municipal service has audited the route (step 10)."""
    repo, row = change.repo, change.row
    if Status(row["status"]) != Status.audited:
        raise Conflict(
            "Рефлексия пишется после аудита маршрута: дождитесь его завершения", code="reflection-before-audit"
        )
    content = dict(row["content"])
    sections = dict(content["sections"])
    sections["reflection"] = {**sections.get("reflection", {}), "text": body.text}
    content["sections"] = sections
    updated = await change.update({"content": content})
    await repo.add_event(row["id"], principal, "reflection", comment="рефлексия педагога")
    return updated


async def mark_audited(
    session: AsyncSession, principal: Principal, route_id: uuid.UUID, body: AuditedRequest
) -> dict[str, Any]:
    """Record a finished audit of a completed route; the same audit again answers the route as it is."""
    repo = RouteRepository(session)
    row = await load_route(repo, principal, route_id, None)
    if row["status"] in (Status.audited, Status.archived) and row["audit_id"] == body.audit_id:
        return row
    if row["status"] != Status.completed:
        raise Conflict(
            f"Аудит проводится только для завершённого маршрута, а этот в статусе «{STATUS_RU[row['status']]}»",
            code="transition-not-allowed",
        )
    updated = await repo.update_fields(
        route_id,
        {
            "status": Status.audited.value,
            "audit_id": body.audit_id,
            "audit_total": body.total,
            "audited_at": body.completed_at,
        },
        expected_version=row["version"],
    )
    if updated is None:
        raise Conflict("Маршрут тем временем изменился; повторите попытку", code="stale-version")
    await repo.add_event(
        route_id,
        principal,
        "audited",
        from_status=Status.completed.value,
        to_status=Status.audited.value,
        comment=f"аудит маршрута: {body.total} из 20 баллов",
    )
    await webhook_events.audit_completed(session, updated, principal)
    return updated
