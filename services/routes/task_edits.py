"""Who may change which fields of a route's task, and when (pure; raises the error that says why not)."""

from __future__ import annotations

from typing import Any

from kit.auth import Principal, Role
from kit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from services.routes.workflow import ACTIVE, Status

# Fields the generator wrote: people correct them only with a reason.
TASK_FIELDS_GENERATED = ("formulation", "starts_on", "ends_on", "result_form")
# A teacher corrects generated fields only before review starts or while the route runs.
TEACHER_CORRECTS_IN = frozenset({Status.draft, Status.in_progress})
# Progress is reported by the teacher (or the school for them) while the route runs.
PROGRESS_FIELDS = ("done", "evidence")
PROGRESS_REPORTERS = frozenset({Role.teacher, Role.school_admin})


def check_task_change(
    principal: Principal, status: Status, task: dict[str, Any], changes: dict[str, Any], reason: str | None
) -> None:
    """Refuse a change of a task the caller may not make now: 422 (no reason, a form not offered),
    403 (a teacher correcting a route under review), 409 (progress outside the running route)."""
    generated = [k for k in changes if k in TASK_FIELDS_GENERATED]
    if generated and not reason:
        raise ValidationFailed(
            "Чтобы изменить сформированное содержание, укажите причину",
            errors=[FieldError(loc=["body", "reason"], code="required", message="Укажите причину изменения")],
        )
    if generated and principal.role == Role.teacher and status not in TEACHER_CORRECTS_IN:
        raise Forbidden("Маршрут на согласовании: попросите тьютора внести исправление", code="role-forbidden")
    progress = [k for k in changes if k in PROGRESS_FIELDS]
    if progress and (status not in ACTIVE or principal.role not in PROGRESS_REPORTERS):
        raise Conflict("О ходе выполнения сообщает педагог, пока маршрут реализуется", code="route-not-active")
    chosen = changes.get("chosen_resource_id")
    if chosen is not None and chosen not in {f.get("resource_id") for f in task.get("forms", [])}:
        raise ValidationFailed(
            "Выберите одну из предложенных форм",
            errors=[
                FieldError(
                    loc=["body", "chosen_resource_id"], code="not-offered", message="Этой формы нет среди предложенных"
                )
            ],
        )
