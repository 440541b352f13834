"""Matching an upload's header to registry fields, the instrument's items or its competencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.errors import FieldError
from services.assessment.intake.reading import UploadRejected
from services.assessment.scoring import Instrument

# Registry and result columns; header cells are matched case-insensitively, Russian aliases allowed.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "идентификатор", "код педагога"),
    "full_name": ("full_name", "фио"),
    "municipality": ("municipality", "муниципалитет", "код мо"),
    "organisation": ("organisation", "organization", "код оо"),
    "position": ("position", "должность"),
    "total": ("total", "итого", "сумма баллов"),
    "level": ("level", "уровень"),
}
ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
JSON_FIELDS = frozenset({*FIELD_ALIASES, "items", "competencies"})


@dataclass
class Columns:
    """Where each field is in a row (index into the row's cells), or None."""

    fields: dict[str, int]
    items: list[int] | None  # aligned with instrument.items
    competencies: list[int] | None  # aligned with instrument.competencies
    names: list[str]  # header names as sent, for error reports


def map_header(header: list[str], instrument: Instrument) -> Columns:
    """Match header cells to fields, items and competencies; raise with every header problem."""
    items = {it.code.casefold(): k for k, it in enumerate(instrument.items)}
    comps = {c.casefold(): k for k, c in enumerate(instrument.competencies)}
    fields: dict[str, int] = {}
    item_idx: dict[int, int] = {}
    comp_idx: dict[int, int] = {}
    errors: list[FieldError] = []
    names = [h.strip().lstrip("\ufeff").strip() for h in header]
    for col, name in enumerate(names):
        key = " ".join(name.casefold().split())
        if not key:
            continue
        target: dict[Any, int]
        if key in ALIAS_TO_FIELD:
            slot: Any = ALIAS_TO_FIELD[key]
            target = fields
        elif key in items:
            slot, target = items[key], item_idx
        elif key in comps:
            slot, target = comps[key], comp_idx
        else:
            errors.append(
                FieldError(
                    loc=["header", col + 1],
                    code="unknown-column",
                    column=name,
                    message="Неизвестный столбец: это не поле реестра, не задание и не компетенция инструмента",
                )
            )
            continue
        if slot in target:
            errors.append(
                FieldError(
                    loc=["header", col + 1],
                    code="duplicate-column",
                    column=name,
                    message="Столбец повторяется",
                )
            )
            continue
        target[slot] = col
    if "external_id" not in fields:
        errors.append(
            FieldError(
                loc=["header"],
                code="missing-column",
                column="external_id",
                message="Нужен столбец «Код педагога» (или «external_id»)",
            )
        )
    if item_idx and comp_idx:
        errors.append(
            FieldError(
                loc=["header"],
                code="mixed-scores",
                column=None,
                message="Загрузите баллы либо по заданиям, либо по компетенциям, но не то и другое сразу",
            )
        )
    if item_idx and len(item_idx) != len(instrument.items):
        missing = [it.code for k, it in enumerate(instrument.items) if k not in item_idx]
        errors.append(
            FieldError(
                loc=["header"],
                code="missing-column",
                column=missing[0],
                message=f"Нет столбцов заданий: {', '.join(missing)}",
            )
        )
    if comp_idx and len(comp_idx) != len(instrument.competencies):
        missing = [c for k, c in enumerate(instrument.competencies) if k not in comp_idx]
        errors.append(
            FieldError(
                loc=["header"],
                code="missing-column",
                column=missing[0],
                message=f"Нет столбцов компетенций: {', '.join(missing)}",
            )
        )
    if not item_idx and not comp_idx and "total" not in fields:
        errors.append(
            FieldError(
                loc=["header"],
                code="missing-column",
                column="total",
                message="Добавьте баллы по заданиям, по компетенциям или хотя бы столбец «Итого»",
            )
        )
    if errors:
        raise UploadRejected(422, "invalid-header", "В строке заголовков есть ошибки; ничего не сохранено", errors)
    return Columns(
        fields=fields,
        items=[item_idx[k] for k in range(len(instrument.items))] if item_idx else None,
        competencies=[comp_idx[k] for k in range(len(instrument.competencies))] if comp_idx else None,
        names=names,
    )
