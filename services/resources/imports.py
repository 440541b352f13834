"""Bulk import rows (CSV / XLSX / JSON cells) into validated resources and mentors (no I/O).

Cells arrive as text (or JSON values): lists are split on `,` `;` `|`, booleans accept да/нет,
dates accept ISO and DD.MM.YYYY (Russian Excel). Every problem becomes a FieldError with the row,
the column, a code and a message; values are never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit.errors import FieldError, field_message
from services.resources.schemas import ExternalId, MentorCreate, ResourceCreate
from services.resources.uploads import Upload, split_list
from services.resources.vocab import OwnerScope, ResourceKind

RESOURCE_COLUMNS = (
    "external_id",
    "kind",
    "title",
    "description",
    "provider",
    "hours",
    "federal_registry",
    "event_format",
    "competencies",
    "subjects",
    "levels",
    "learning_type",
    "mode",
    "municipalities",
    "starts_on",
    "ends_on",
    "capacity",
    "url",
)
RESOURCE_REQUIRED = ("external_id", "kind", "title", "learning_type", "mode")
RESOURCE_ALIASES = {
    "код": "external_id",
    "идентификатор": "external_id",
    "вид": "kind",
    "название": "title",
    "описание": "description",
    "организатор": "provider",
    "провайдер": "provider",
    "часы": "hours",
    "объем_часов": "hours",
    "федеральный_реестр": "federal_registry",
    "формат_мероприятия": "event_format",
    "компетенции": "competencies",
    "предметы": "subjects",
    "уровни": "levels",
    "группы": "levels",
    "тип_обучения": "learning_type",
    "форма": "mode",
    "формат": "mode",
    "муниципалитеты": "municipalities",
    "дата_начала": "starts_on",
    "начало": "starts_on",
    "дата_окончания": "ends_on",
    "окончание": "ends_on",
    "места": "capacity",
    "количество_мест": "capacity",
    "ссылка": "url",
}
MENTOR_COLUMNS = (
    "teacher_id",
    "municipality",
    "role",
    "subjects",
    "competencies",
    "level",
    "mode",
    "capacity",
    "joined_year",
    "joined_assessment",
)
MENTOR_REQUIRED = ("teacher_id", "municipality", "subjects", "level", "mode", "capacity")
MENTOR_ALIASES = {
    "id_педагога": "teacher_id",
    "педагог": "teacher_id",
    "муниципалитет": "municipality",
    "роль": "role",
    "предметы": "subjects",
    "компетенции": "competencies",
    "уровень": "level",
    "формат": "mode",
    "форма": "mode",
    "места": "capacity",
    "количество_наставляемых": "capacity",
    "год_вхождения": "joined_year",
    "основание": "joined_assessment",
    "оценка": "joined_assessment",
}
LIST_COLUMNS = frozenset({"competencies", "subjects", "levels", "municipalities"})
BOOL_COLUMNS = frozenset({"federal_registry"})
DATE_COLUMNS = frozenset({"starts_on", "ends_on"})
TRUE = frozenset({"1", "true", "yes", "да", "y", "д", "+"})
FALSE = frozenset({"0", "false", "no", "нет", "n", "н", "-"})
_RU_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class ResourceImportRow(ResourceCreate):
    model_config = ConfigDict(extra="forbid")
    external_id: ExternalId = Field(description="Required in an import: rows are upserted by it")


class MentorImportRow(MentorCreate):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T", bound=BaseModel)


class CellError(ValueError):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.column, self.code, self.message = column, code, message


def _prepare(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, value in row.items():
        if value is None:
            continue
        if "\x00" in str(value):  # PostgreSQL text cannot hold NUL
            raise CellError(col, "invalid-character", "Ячейка содержит недопустимый нулевой символ")
        if col in LIST_COLUMNS:
            out[col] = split_list(value)
        elif col in BOOL_COLUMNS and not isinstance(value, bool):
            v = str(value).strip().lower()
            if v in TRUE:
                out[col] = True
            elif v in FALSE:
                out[col] = False
            else:
                raise CellError(col, "invalid-boolean", "Укажите «да» или «нет» (или 1 и 0)")
        elif col in DATE_COLUMNS and isinstance(value, str) and (m := _RU_DATE.match(value.strip())):
            try:
                out[col] = date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
            except ValueError as e:
                raise CellError(col, "invalid-date", "Такой даты нет в календаре") from e
        elif col in DATE_COLUMNS and isinstance(value, str) and "T" in value:
            out[col] = value.split("T", 1)[0]
        else:
            out[col] = value
    return out


def validate_rows(table: Upload, model: type[T]) -> tuple[list[tuple[int, T]], list[FieldError]]:
    """Validate every row; return the good ones (with their numbers) and an error per bad cell."""
    good: list[tuple[int, T]] = []
    errors: list[FieldError] = []
    for number, raw in table.rows:
        try:
            prepared = _prepare(raw)
        except CellError as e:
            errors.append(
                FieldError(loc=["row", number, e.column], code=e.code, message=e.message, row=number, column=e.column)
            )
            continue
        try:
            good.append((number, model.model_validate(prepared)))
        except ValidationError as e:
            for err in e.errors(include_input=False, include_url=False):
                loc: list[str | int] = []
                for part in err.get("loc", ()):
                    if isinstance(part, str | int):
                        loc.append(part)
                column = str(loc[0]) if loc else None
                errors.append(
                    FieldError(
                        loc=["row", number, *loc],
                        code=str(err.get("type", "invalid")),
                        message=field_message(err),
                        row=number,
                        column=column,
                    )
                )
    return good, errors


def row_error(number: int, column: str | None, code: str, message: str) -> FieldError:
    loc: list[str | int] = ["row", number]
    if column:
        loc.append(column)
    return FieldError(loc=loc, code=code, message=message, row=number, column=column)


# What a valid row may still not do: (column, code, message) of the row's error, or None.
Problem = tuple[str | None, str, str]


def resource_row_problem(
    r: ResourceImportRow, prior: Mapping[str, Any] | None, owner: str | None, first_row: int | None
) -> Problem | None:
    """Why a resource row cannot be stored: a repeat, not importable, another owner's, below the reserved seats.

    `prior` is the stored resource of that external id, `owner` the importing municipality (None: region-wide),
    `first_row` the earlier row of the same external id.
    """
    if first_row is not None:
        return ("external_id", "duplicate-in-batch", f"Код ресурса повторяет строку {first_row}")
    if r.kind == ResourceKind.peer_resource:
        return ("kind", "not-importable", "Ресурсы коллег не импортируются: их предлагают сами педагоги")
    if r.owner_teacher_id is not None:
        return ("owner_teacher_id", "not-importable", "Педагог-владелец не импортируется")
    if owner is not None and any(m != owner for m in r.municipalities):
        return ("municipalities", "out-of-scope", "Можно импортировать только местные ресурсы своего муниципалитета")
    if prior is not None and owner is not None and prior["owner_municipality"] != owner:
        return ("external_id", "out-of-scope", "Этот ресурс принадлежит другому владельцу каталога")
    if prior is not None and r.capacity is not None and r.capacity < prior["reserved"]:
        return ("capacity", "capacity-below-reserved", "Число мест меньше уже забронированных")
    return None


def resource_record(r: ResourceImportRow, region: str, owner: str | None, created_by: str) -> tuple[Any, ...]:
    """A resource row in the order of the import's COPY columns (a local owner's rows stay local)."""
    return (
        region,
        r.external_id,
        r.kind.value,
        r.event_format.value if r.event_format else None,
        r.title,
        r.description,
        r.provider,
        r.hours,
        r.federal_registry,
        list(r.competencies),
        [str(s) for s in r.subjects],
        list(r.levels),
        r.learning_type.value,
        r.mode.value,
        list(r.municipalities) or ([owner] if owner else []),
        r.starts_on,
        r.ends_on,
        r.capacity,
        r.url,
        OwnerScope.municipality.value if owner else OwnerScope.region.value,
        owner,
        created_by,
    )


def mentor_row_problem(
    r: MentorImportRow, prior: Mapping[str, Any] | None, own: str | None, first_row: int | None
) -> Problem | None:
    """Why a mentor row cannot be stored: a repeat, another municipality's, or below the mentees held."""
    if first_row is not None:
        return ("teacher_id", "duplicate-in-batch", f"Педагог повторяет строку {first_row}")
    if own is not None and (r.municipality != own or (prior is not None and prior["municipality"] != own)):
        return ("municipality", "out-of-scope", "Можно импортировать только наставников своего муниципалитета")
    if prior is not None and r.capacity < prior["load"]:
        return ("capacity", "capacity-below-load", "Число мест меньше числа уже закреплённых подопечных")
    return None


def mentor_record(r: MentorImportRow, region: str) -> tuple[Any, ...]:
    """A mentor row in the order of the import's COPY columns."""
    return (
        region,
        r.teacher_id,
        r.municipality,
        r.role.value,
        [str(s) for s in r.subjects],
        list(r.competencies),
        r.level,
        r.mode.value,
        r.capacity,
        r.joined_year,
        r.joined_assessment,
    )
