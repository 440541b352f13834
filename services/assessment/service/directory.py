"""The directory's writes and scoped reads: municipalities and organisations by code."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from services.assessment.repositories.directory import DirectoryRepository
from services.assessment.schemas import MunicipalityWrite, OrganisationWrite


def _unique_codes(codes: list[str]) -> None:
    """422 naming every item whose code repeats an earlier one of the same body."""
    first: dict[str, int] = {}
    errors: list[FieldError] = []
    for i, code in enumerate(codes):
        if code in first:
            message = f"Элемент {i} повторяет код элемента {first[code]}"
            errors.append(FieldError(loc=["body", i, "code"], code="duplicate-code", message=message))
        else:
            first[code] = i
    if errors:
        raise ValidationFailed("Коды в запросе повторяются; ничего не сохранено", errors=errors)


def _not_elsewhere(existing: dict[str, str], wanted: dict[str, str], what: str) -> None:
    """409 when a code already belongs to another region: a region edits only its own directory."""
    taken = sorted(code for code, region in wanted.items() if code in existing and existing[code] != region)
    if taken:
        raise Conflict(
            f"Кодов, уже занятых {what} другого региона: {len(taken)}; ничего не сохранено",
            code="code-of-another-region",
            extra={"codes": taken[:50]},
        )


async def upsert_municipalities(
    session: AsyncSession, principal: Principal, body: list[MunicipalityWrite]
) -> list[dict[str, object]]:
    """Create or update municipalities of the caller's region; 409 for a code of another region."""
    if principal.region and any(m.region != principal.region for m in body):
        raise Forbidden("Можно изменять только муниципалитеты своего региона", code="out-of-scope")
    _unique_codes([m.code for m in body])
    repo = DirectoryRepository(session)
    if body:
        wanted = {m.code: m.region for m in body}
        _not_elsewhere(await repo.regions_of_municipalities(list(wanted)), wanted, "муниципалитетами")
        await repo.upsert_municipalities([m.model_dump() for m in body])
    return [m.model_dump() for m in body]


async def list_organisations(
    session: AsyncSession, principal: Principal, municipality: str | None
) -> list[dict[str, object]]:
    """Organisations the caller may see, optionally of one municipality."""
    own_mun, own_org = _directory_scope(principal)
    if own_mun and municipality and municipality != own_mun:
        return []
    return await DirectoryRepository(session).list_organisations(
        region=principal.region, municipality=municipality or own_mun, organisation=own_org
    )


async def upsert_organisations(
    session: AsyncSession, principal: Principal, body: list[OrganisationWrite]
) -> list[dict[str, object]]:
    """Create or update organisations of municipalities of the caller's region (404 for another's)."""
    _unique_codes([o.code for o in body])
    repo = DirectoryRepository(session)
    target = await repo.regions_of_municipalities(sorted({o.municipality for o in body}))
    for code in {o.municipality for o in body}:
        if code not in target or (principal.region and target[code] != principal.region):
            raise NotFound("Муниципалитет не найден", code="municipality-not-found")
    if body:
        wanted = {o.code: target[o.municipality] for o in body}
        _not_elsewhere(await repo.regions_of_organisations(list(wanted)), wanted, "образовательными организациями")
        await repo.upsert_organisations(
            [{"code": o.code, "name": o.name, "municipality_code": o.municipality} for o in body]
        )
    return [o.model_dump() for o in body]


def _directory_scope(principal: Principal) -> tuple[str | None, str | None]:
    """Municipality and organisation a non-regional caller is limited to."""
    if principal.is_regional:
        return None, None
    if principal.role == Role.municipal_methodologist:
        return principal.municipality or "-", None
    if principal.role in (Role.school_admin, Role.teacher):
        return None, principal.organisation or "-"
    return "-", "-"
