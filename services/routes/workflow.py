"""The route lifecycle of the regional regulation, as data: who may move a route from where to where."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kit.auth import ROLE_LABELS, Principal, Role
from services.routes.labels import STATUS_RU


class Status(enum.StrEnum):
    draft = "draft"
    recommended = "recommended"
    sent_to_municipality = "sent_to_municipality"
    agreed_with_school = "agreed_with_school"
    approved = "approved"
    in_progress = "in_progress"
    completed = "completed"
    audited = "audited"
    archived = "archived"


class Action(enum.StrEnum):
    recommend = "recommend"
    send_to_municipality = "send_to_municipality"
    agree_with_school = "agree_with_school"
    approve = "approve"
    start = "start"
    complete = "complete"
    archive = "archive"
    return_for_correction = "return_for_correction"


# Each action as people say it, for messages ("Нельзя утвердить маршрут: ...").
ACTION_RU: dict[Action, str] = {
    Action.recommend: "внести рекомендации в маршрут",
    Action.send_to_municipality: "направить маршрут в муниципальную методическую службу",
    Action.agree_with_school: "согласовать маршрут с образовательной организацией",
    Action.approve: "утвердить маршрут",
    Action.start: "начать реализацию маршрута",
    Action.complete: "завершить маршрут",
    Action.archive: "перевести маршрут в архив",
    Action.return_for_correction: "вернуть маршрут на доработку",
}


@dataclass(frozen=True)
class Transition:
    action: Action
    source: Status
    target: Status
    roles: frozenset[Role]
    needs_comment: bool = False


ADMIN = Role.admin
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.recommend, Status.draft, Status.recommended, frozenset({Role.regional_specialist, ADMIN})),
    Transition(
        Action.send_to_municipality,
        Status.recommended,
        Status.sent_to_municipality,
        frozenset({Role.regional_specialist, ADMIN}),
    ),
    Transition(
        Action.agree_with_school,
        Status.sent_to_municipality,
        Status.agreed_with_school,
        frozenset({Role.municipal_methodologist, ADMIN}),
    ),
    Transition(Action.approve, Status.agreed_with_school, Status.approved, frozenset({Role.school_admin, ADMIN})),
    Transition(Action.start, Status.approved, Status.in_progress, frozenset({Role.teacher, Role.school_admin, ADMIN})),
    Transition(Action.complete, Status.in_progress, Status.completed, frozenset({Role.teacher})),
    Transition(
        Action.archive,
        Status.audited,
        Status.archived,
        frozenset({Role.municipal_methodologist, Role.regional_specialist, ADMIN, Role.service}),
    ),
    # Returns for correction, one step back, each with a comment.
    Transition(
        Action.return_for_correction,
        Status.recommended,
        Status.draft,
        frozenset({Role.regional_specialist, ADMIN}),
        needs_comment=True,
    ),
    Transition(
        Action.return_for_correction,
        Status.sent_to_municipality,
        Status.recommended,
        frozenset({Role.municipal_methodologist, ADMIN}),
        needs_comment=True,
    ),
    Transition(
        Action.return_for_correction,
        Status.agreed_with_school,
        Status.sent_to_municipality,
        frozenset({Role.school_admin, ADMIN}),
        needs_comment=True,
    ),
)

# Content may be edited (with a reason) in these states; in_progress edits are versioned corrections.
EDITABLE = frozenset(
    {
        Status.draft,
        Status.recommended,
        Status.sent_to_municipality,
        Status.agreed_with_school,
        Status.approved,
        Status.in_progress,
    }
)
ACTIVE = frozenset({Status.approved, Status.in_progress})


class TransitionRefused(Exception):
    """Why a transition is not allowed: `status` 403 (role) or 409 (state)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def find_transition(action: Action, source: Status, principal: Principal) -> Transition:
    """Return the transition or raise TransitionRefused (409 wrong state, 403 wrong role)."""
    candidates = [t for t in TRANSITIONS if t.action == action]
    in_state = [t for t in candidates if t.source == source]
    if not in_state:
        sources = [s for s in Status if s in {t.source for t in candidates}]
        allowed = ("в статусе " if len(sources) == 1 else "в статусах ") + ", ".join(
            f"«{STATUS_RU[s]}»" for s in sources
        )
        raise TransitionRefused(
            409, f"Нельзя {ACTION_RU[action]}: он в статусе «{STATUS_RU[source]}», а это возможно только {allowed}"
        )
    t = in_state[0]
    if principal.role not in t.roles:
        raise TransitionRefused(403, f"Ваша роль «{ROLE_LABELS[principal.role]}» не позволяет {ACTION_RU[action]}")
    return t


def allowed_actions(source: Status, principal: Principal) -> list[str]:
    return sorted({t.action.value for t in TRANSITIONS if t.source == source and principal.role in t.roles})
