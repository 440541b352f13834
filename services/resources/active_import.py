"""Rows of an import of the methodological active (CSV / XLSX / JSON cells) and their checks (no I/O).

Columns (Russian headers accepted): the teacher's external id, or the full name with the municipality code
(matched in the registry when exactly one teacher has that name there); subjects; status; since; basis (and
its level for an ОМК result); the order's number and date. Russian words are accepted for subjects, statuses
and bases; dates as ISO or DD.MM.YYYY. Messages are Russian and never echo a value.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.resources.active_vocab import BASIS_WORDS, STATUS_WORDS, ActiveStatus, BasisKind, fold
from services.resources.entry_criteria import LEVEL_LABELS_RU
from services.resources.vocab import SUBJECT_LABELS_RU

ACTIVE_COLUMNS = (
    "teacher_external_id",
    "full_name",
    "municipality",
    "subjects",
    "status",
    "since",
    "basis",
    "basis_level",
    "order_number",
    "order_date",
)
ACTIVE_REQUIRED = ("subjects", "status")
ACTIVE_ALIASES = {
    "внешний_id": "teacher_external_id",
    "внешний_идентификатор": "teacher_external_id",
    "id_педагога": "teacher_external_id",
    "код_педагога": "teacher_external_id",
    "external_id": "teacher_external_id",
    "фио": "full_name",
    "ф.и.о.": "full_name",
    "педагог": "full_name",
    "муниципалитет": "municipality",
    "код_муниципалитета": "municipality",
    "предмет": "subjects",
    "предметы": "subjects",
    "статус": "status",
    "с": "since",
    "дата": "since",
    "с_какой_даты": "since",
    "дата_включения": "since",
    "основание": "basis",
    "уровень": "basis_level",
    "уровень_омк": "basis_level",
    "номер_приказа": "order_number",
    "приказ": "order_number",
    "дата_приказа": "order_date",
}
SUBJECT_WORDS = {fold(label): code for code, label in SUBJECT_LABELS_RU.items()} | {c: c for c in SUBJECT_LABELS_RU}
LEVEL_WORDS = {fold(label): code for code, label in LEVEL_LABELS_RU.items()} | {c: c for c in LEVEL_LABELS_RU}
_RU_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _date(value: Any) -> Any:
    if isinstance(value, str) and (m := _RU_DATE.match(value.strip())):
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError as e:
            raise ValueError("Такой даты нет в календаре") from e
    if isinstance(value, str) and "T" in value:
        return value.split("T", 1)[0]
    return value


def _word(table: dict[str, str], what: str) -> Any:
    def parse(value: Any) -> Any:
        if value is None:
            return None
        code = table.get(fold(str(value)))
        if code is None:
            raise ValueError(f"Неизвестное значение: укажите {what}")
        return code

    return parse


class ActiveImportRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teacher_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    full_name: str | None = Field(default=None, min_length=3, max_length=300)
    municipality: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,32}$")
    subjects: list[str] = Field(min_length=1, max_length=15)
    status: ActiveStatus
    since: date | None = None
    basis: BasisKind = BasisKind.omk
    basis_level: str | None = None
    order_number: str | None = Field(default=None, min_length=1, max_length=64)
    order_date: date | None = None

    _dates = field_validator("since", "order_date", mode="before")(_date)
    _status = field_validator("status", mode="before")(_word(STATUS_WORDS, "кандидат, член актива или выбыл"))
    _basis = field_validator("basis", mode="before")(
        _word(BASIS_WORDS, "ОМК или роль (руководитель МО, эксперт ЕГЭ или ОГЭ, наставник, ...)")
    )
    _level = field_validator("basis_level", mode="before")(
        _word(LEVEL_WORDS, "уровень: низкий, базовый, повышенный или высокий")
    )

    @field_validator("teacher_external_id", "full_name", "order_number", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return None if v is None else str(v).strip() or None

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, v: Any) -> Any:
        words = v if isinstance(v, list) else [v]
        out = []
        for w in words:
            code = SUBJECT_WORDS.get(fold(str(w)))
            if code is None:
                raise ValueError("Неизвестный предмет: укажите его название, например «математика»")
            out.append(code)
        return list(dict.fromkeys(out))

    @model_validator(mode="after")
    def _whole(self) -> ActiveImportRow:
        if self.teacher_external_id is None and (self.full_name is None or self.municipality is None):
            raise ValueError("Укажите внешний идентификатор педагога или его ФИО вместе с кодом муниципалитета")
        if (self.order_number is None) != (self.order_date is None):
            raise ValueError("Укажите и номер, и дату приказа")
        if self.status == ActiveStatus.member and self.order_number is None:
            raise ValueError("Для члена актива укажите номер и дату приказа, которым он включён")
        return self


# What a valid row may still not do: (column, code, message), or None.
Problem = tuple[str | None, str, str]


def teacher_problem(r: ActiveImportRow, matches: int, municipality_differs: bool) -> Problem | None:
    """Why a row's teacher cannot be named: none or several in the registry, or another municipality."""
    if r.teacher_external_id is not None:
        if matches == 0:
            return ("teacher_external_id", "unknown-teacher", "Педагога с таким внешним идентификатором нет в реестре")
        if municipality_differs:
            return ("municipality", "municipality-mismatch", "Педагог числится в реестре в другом муниципалитете")
        return None
    if matches == 0:
        return ("full_name", "unknown-teacher", "В реестре нет педагога с таким ФИО в этом муниципалитете")
    if matches > 1:
        return (
            "full_name",
            "ambiguous-teacher",
            "В реестре несколько педагогов с таким ФИО в этом муниципалитете: укажите внешний идентификатор",
        )
    return None


def duplicate_problem(first_row: int | None) -> Problem | None:
    if first_row is not None:
        return ("teacher_external_id", "duplicate-in-batch", f"Педагог повторяет строку {first_row}")
    return None


def mentor_problem(status: ActiveStatus, mentors_now: bool) -> Problem | None:
    """A member who mentors now cannot be listed back as a candidate: the mentor record would stay active."""
    if mentors_now and status == ActiveStatus.candidate:
        return (
            "status",
            "active-mentor",
            "Педагог — действующий наставник и член актива: кандидатом его не сделать, "
            "сначала завершите наставничество или исключите из актива",
        )
    return None
