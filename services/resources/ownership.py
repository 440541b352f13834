"""Who owns a resource of the catalogue and who may change it (no I/O).

Regional staff own region-wide resources (and record teachers' peer resources for them); a municipal
service owns its municipality's local resources; a teacher owns the peer resources they offer.
A role outside these is refused earlier, by `auth.ResourceAuthor`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from kit.auth import ROLE_LABELS, Principal, Role
from kit.errors import FieldError, Forbidden, ValidationFailed
from services.resources.schemas import ResourceCreate
from services.resources.vocab import OwnerScope, ResourceKind


def ownership_for_create(principal: Principal, body: ResourceCreate) -> dict[str, Any]:
    """Who owns a new resource, refusing (403) what the caller's role may not create."""
    if principal.is_regional:
        return _regional_ownership(body)
    if principal.role == Role.municipal_methodologist and principal.municipality:
        return _municipal_ownership(principal.municipality, body)
    if principal.role == Role.teacher and principal.teacher_id:
        return _teacher_ownership(principal, body)
    raise Forbidden(
        f"Ваша роль «{ROLE_LABELS[principal.role]}» не позволяет пополнять ресурсную карту", code="role-forbidden"
    )


def _regional_ownership(body: ResourceCreate) -> dict[str, Any]:
    if body.kind == ResourceKind.peer_resource:
        if body.owner_teacher_id is None:
            raise ValidationFailed(
                "Для ресурса коллеги укажите педагога, который его предлагает",
                errors=[
                    FieldError(
                        loc=["body", "owner_teacher_id"], code="missing", message="Обязательно для ресурса коллеги"
                    )
                ],
            )
        return {
            "owner_scope": OwnerScope.teacher,
            "owner_teacher_id": body.owner_teacher_id,
            "owner_municipality": None,
        }
    if body.owner_teacher_id is not None:
        raise ValidationFailed(
            "Педагог-владелец указывается только у ресурса коллеги",
            errors=[
                FieldError(
                    loc=["body", "owner_teacher_id"],
                    code="not-allowed",
                    message="Заполняется только для ресурса коллеги",
                )
            ],
        )
    return {"owner_scope": OwnerScope.region, "owner_teacher_id": None, "owner_municipality": None}


def _municipal_ownership(municipality: str, body: ResourceCreate) -> dict[str, Any]:
    if body.kind == ResourceKind.peer_resource or body.owner_teacher_id is not None:
        raise Forbidden("Ресурсы коллег предлагают сами педагоги", code="role-forbidden")
    if any(m != municipality for m in body.municipalities):
        raise Forbidden("Муниципальная служба добавляет ресурсы только своего муниципалитета", code="out-of-scope")
    return {
        "owner_scope": OwnerScope.municipality,
        "owner_municipality": municipality,
        "owner_teacher_id": None,
        "municipalities": [municipality],
    }


def _teacher_ownership(principal: Principal, body: ResourceCreate) -> dict[str, Any]:
    assert principal.teacher_id is not None
    if body.kind != ResourceKind.peer_resource:
        raise Forbidden("Педагог может предложить только собственный ресурс — ресурс коллеги", code="role-forbidden")
    if body.owner_teacher_id is not None and str(body.owner_teacher_id) != principal.teacher_id:
        raise Forbidden("Педагог может предлагать только собственные ресурсы", code="out-of-scope")
    own = [principal.municipality] if principal.municipality else []
    if any(m not in own for m in body.municipalities):
        raise Forbidden("Ресурс педагога проводится в его муниципалитете (или онлайн)", code="out-of-scope")
    return {
        "owner_scope": OwnerScope.teacher,
        "owner_teacher_id": uuid.UUID(principal.teacher_id),
        "owner_municipality": None,
        "municipalities": body.municipalities or own,
    }


def can_edit(principal: Principal, row: dict[str, Any]) -> bool:
    """Whether the caller owns (or, regional staff, keeps) the resource."""
    if principal.is_regional:
        return True
    if principal.role == Role.municipal_methodologist:
        return row["owner_scope"] == OwnerScope.municipality and row["owner_municipality"] == principal.municipality
    if principal.role == Role.teacher:
        return row["owner_scope"] == OwnerScope.teacher and str(row["owner_teacher_id"]) == principal.teacher_id
    return False


def ensure_can_edit(principal: Principal, row: dict[str, Any]) -> None:
    if not can_edit(principal, row):
        raise Forbidden("Вы не можете изменять этот ресурс: он принадлежит другому владельцу", code="not-owner")


def local_municipalities(principal: Principal, wanted: Sequence[str]) -> list[str]:
    """Where a local owner's changed resource is held: their own municipality only, never region-wide."""
    own = principal.municipality
    if any(m != own for m in wanted):
        raise Forbidden("Местные ресурсы остаются в вашем муниципалитете", code="out-of-scope")
    # Emptying the list would make a local resource region-wide: it stays where its owner is.
    return list(wanted) or ([own] if own else [])


def import_owner(principal: Principal) -> str | None:
    """The municipality owning what the caller imports (None: region-wide, for regional staff)."""
    return principal.municipality if principal.role == Role.municipal_methodologist else None
