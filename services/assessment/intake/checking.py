"""Checking and scoring uploaded rows one by one; good rows go, scored, to a CSV stage file for COPY.

No database here. Rows stream from the spooled file (CSV, XLSX or JSON) through `RowChecker`,
which writes each good row, already scored, as one line of a CSV file ready for `COPY`, and keeps
every bad row's errors (row, column, code, message; never the rejected value). Memory stays flat
in the number of rows except for the set of external ids (to find duplicates in a batch).
"""

from __future__ import annotations

import csv
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import FieldError
from services.assessment.intake.header import FIELD_ALIASES, JSON_FIELDS, Columns, map_header
from services.assessment.intake.reading import (
    FORMAT_CSV,
    FORMAT_JSON,
    ArchiveLimits,
    SpooledBody,
    UploadRejected,
    _cell_text,
    csv_rows,
    json_rows,
    xlsx_rows,
)
from services.assessment.scoring import LEVEL_ALIASES, Framework, Instrument, Level, score_result
from services.assessment.vocab import normalize_name

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
DEFAULT_POSITION = "учитель"

# Canonical integer cells map straight to their value (the common case, no float parsing).
_FAST_INT = {str(i): i for i in range(0, 1001)}


@dataclass(frozen=True)
class Organisation:
    municipality: str
    region: str


def _slow_number(cell: str) -> float | None:
    """Parse a score cell: spaces allowed, decimal comma or point; None when not a finite number."""
    s = cell.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not s or "_" in s:
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    if not math.isfinite(v):
        return None
    return round(v, 2)


def fmt_points(v: float) -> str:
    if type(v) is int:
        return str(v)
    return str(int(v)) if float(v).is_integer() else repr(round(v, 2))


STAGE_COLUMNS = (
    "row_no",
    "external_id",
    "full_name",
    "search_name",
    "region",
    "municipality",
    "organisation",
    "position",
    "item_points",
    "competency_points",
    "total_points",
    "max_points",
    "percent",
    "level",
    "grp",
    "level_source",
    "deficit_codes",
    "growth_codes",
    "strength_codes",
)


@dataclass
class Outcome:
    rows: int = 0
    staged: int = 0
    rejected: int = 0
    errors: list[FieldError] = field(default_factory=list)
    errors_total: int = 0


class RowChecker:
    """Checks and scores rows one by one, writing good rows to a CSV stage file for COPY."""

    def __init__(
        self,
        framework: Framework,
        instrument: Instrument,
        organisations: dict[str, Organisation],
        out: Any,
        *,
        max_errors: int,
    ) -> None:
        self.fw, self.ins, self.orgs = framework, instrument, organisations
        self.writer = csv.writer(out, lineterminator="\n")
        self.max_errors = max_errors
        self.outcome = Outcome()
        self.seen: dict[str, int] = {}
        self.item_max = [it.max_points for it in instrument.items]
        self.item_fast = [{k: v for k, v in _FAST_INT.items() if v <= it.max_points} for it in instrument.items]
        self.comp_max = list(instrument.competency_max)
        self._cols: Columns | None = None
        self._field_index: list[int | None] = []
        self._field_pos: dict[str, int] = {}
        self._max_item_col = -1
        self._items_of: Any = None

    # A row's errors are collected here, then counted once.
    def _err(
        self, errs: list[FieldError], loc: list[str | int], row: int, column: str, code: str, message: str
    ) -> None:
        errs.append(FieldError(loc=loc, row=row, column=column, code=code, message=message))

    def _finish(self, errs: list[FieldError]) -> None:
        o = self.outcome
        o.rejected += 1
        for e in errs:
            o.errors_total += 1
            if len(o.errors) < self.max_errors:
                o.errors.append(e)

    def check(self, row: int, cells: list[str], cols: Columns, loc_prefix: list[str | int]) -> None:
        """Check one row of a tabular upload (CSV/XLSX); `row` is the 1-based data row number."""
        self.outcome.rows += 1
        errs: list[FieldError] = []
        n = len(cells)
        if cols is not self._cols:
            self._bind(cols)
        fields = self._field_index
        values = [cells[i].strip() if i is not None and i < n else "" for i in fields]

        def cell(i: int | None) -> str:
            return "" if i is None else values[i]

        item_points: list[Any] | None = None
        raw_items: Sequence[str] | None = None
        comp_points: list[float] | None = None
        if cols.items is not None:
            raw = self._items_of(cells) if n > self._max_item_col else [cells[i] if i < n else "" for i in cols.items]
            fast = list(map(dict.get, self.item_fast, raw))
            if None not in fast:
                item_points, raw_items = fast, raw
            else:
                item_points, raw_items = self._scores(
                    row,
                    cells,
                    cols.items,
                    None,
                    self.item_max,
                    [it.code for it in self.ins.items],
                    cols,
                    loc_prefix,
                    errs,
                )
        elif cols.competencies is not None:
            comp_points, _ = self._scores(
                row, cells, cols.competencies, None, self.comp_max, list(self.ins.competencies), cols, loc_prefix, errs
            )
        self._common(row, errs, loc_prefix, cols.names, self._field_pos, cell, item_points, raw_items, comp_points)

    def _bind(self, cols: Columns) -> None:
        """Precompute, once per header, where the fields and items are."""
        self._cols = cols
        names = list(FIELD_ALIASES)
        self._field_index = [cols.fields.get(name) for name in names]
        self._field_pos = {name: k for k, name in enumerate(names) if cols.fields.get(name) is not None}
        self._names_by_pos = names
        idx = cols.items or []
        self._max_item_col = max(idx) if idx else -1
        self._items_of = operator.itemgetter(*idx) if len(idx) > 1 else (lambda c: [c[idx[0]]] if idx else [])

    def _column_name(self, field: str, names: list[str]) -> str:
        """The column as the client named it (its header cell) or the field name."""
        if self._cols is not None and names is self._cols.names:
            i = self._cols.fields.get(field)
            return names[i] if i is not None else field
        return field

    def check_json(self, row: int, obj: Any) -> None:
        """Check one row of a JSON batch."""
        self.outcome.rows += 1
        errs: list[FieldError] = []
        prefix: list[str | int] = ["body", "rows", row - 1]
        if not isinstance(obj, dict):
            self._err(errs, prefix, row, "", "invalid-row", "Строка должна быть объектом с полями")
            self._finish(errs)
            return
        for k in obj:
            if k not in JSON_FIELDS:
                self._err(errs, [*prefix, str(k)], row, str(k), "unknown-column", "Такого поля нет в форме загрузки")
        item_points: list[float] | None = None
        comp_points: list[float] | None = None
        if obj.get("items") is not None:
            item_points = self._json_scores(
                row, obj["items"], [it.code for it in self.ins.items], self.item_max, "items", prefix, errs
            )
        elif obj.get("competencies") is not None:
            comp_points = self._json_scores(
                row, obj["competencies"], list(self.ins.competencies), self.comp_max, "competencies", prefix, errs
            )
        elif obj.get("total") is None:
            self._err(
                errs,
                prefix,
                row,
                "items",
                "missing-scores",
                "Укажите баллы по заданиям, по компетенциям или хотя бы итоговый балл",
            )
        names = list(FIELD_ALIASES)
        fields = {name: i for i, name in enumerate(names)}
        values = [obj.get(name) for name in names]

        def cell(i: int | None) -> str:
            if i is None:
                return ""
            v = values[i]
            return "" if v is None else _cell_text(v).strip()

        self._common(row, errs, prefix, names, fields, cell, item_points, None, comp_points)

    def _json_scores(
        self,
        row: int,
        given: Any,
        codes: list[str],
        maxes: list[float],
        key: str,
        prefix: list[str | int],
        errs: list[FieldError],
    ) -> list[float] | None:
        if not isinstance(given, dict):
            self._err(
                errs, [*prefix, key], row, key, "invalid-scores", f"Поле «{key}» должно быть объектом вида «код: балл»"
            )
            return None
        known = set(codes)
        for k in given:
            if k not in known:
                self._err(
                    errs,
                    [*prefix, key, str(k)],
                    row,
                    f"{key}.{k}",
                    "unknown-column",
                    "В инструменте кампании нет такого задания или компетенции",
                )
        out: list[float] = []
        for code, mx in zip(codes, maxes, strict=True):
            v = given.get(code)
            col = f"{key}.{code}"
            loc: list[str | int] = [*prefix, key, code]
            if v is None:
                self._err(errs, loc, row, col, "missing-score", "Нет балла")
                continue
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                self._err(errs, loc, row, col, "not-a-number", "Балл должен быть числом")
                continue
            p = _slow_number(str(v)) if isinstance(v, str) else (float(v) if math.isfinite(v) else None)
            if p is None:
                self._err(errs, loc, row, col, "not-a-number", "Балл должен быть числом")
            elif p < 0:
                self._err(errs, loc, row, col, "negative-score", "Балл не может быть отрицательным")
            elif p > mx + 1e-9:
                self._err(errs, loc, row, col, "above-max", f"Балл больше максимального ({fmt_points(mx)})")
            else:
                out.append(round(p, 2))
        return out if len(out) == len(codes) else None

    def _scores(
        self,
        row: int,
        cells: list[str],
        idx: list[int],
        fast: list[dict[str, int]] | None,
        maxes: list[float],
        codes: list[str],
        cols: Columns,
        prefix: list[str | int],
        errs: list[FieldError],
    ) -> tuple[list[float] | None, list[str] | None]:
        n = len(cells)
        raw = [cells[i] if i < n else "" for i in idx]
        if fast is not None:
            vals: list[Any] = [d.get(c) for d, c in zip(fast, raw, strict=True)]
            if None not in vals:
                return vals, raw
        out: list[float] = []
        ok = True
        for k, (c, mx) in enumerate(zip(raw, maxes, strict=True)):
            col = cols.names[idx[k]]
            loc: list[str | int] = [*prefix, row, col]
            if not c.strip():
                self._err(errs, loc, row, col, "missing-score", "Нет балла")
                ok = False
                continue
            p = _slow_number(c)
            if p is None:
                self._err(errs, loc, row, col, "not-a-number", "Балл должен быть числом")
                ok = False
            elif p < 0:
                self._err(errs, loc, row, col, "negative-score", "Балл не может быть отрицательным")
                ok = False
            elif p > mx + 1e-9:
                self._err(
                    errs,
                    loc,
                    row,
                    col,
                    "above-max",
                    f"Балл больше максимального ({fmt_points(mx)}) для «{codes[k]}»",
                )
                ok = False
            else:
                out.append(p)
        return (out, None) if ok else (None, None)

    def _common(
        self,
        row: int,
        errs: list[FieldError],
        prefix: list[str | int],
        names: list[str],
        f: dict[str, int],
        cell: Any,
        item_points: list[Any] | None,
        raw_items: Sequence[str] | None,
        comp_points: list[float] | None,
    ) -> None:
        def col_loc(name: str) -> tuple[list[str | int], str]:
            column = self._column_name(name, names)
            return ([*prefix, column] if prefix[:1] == ["body"] else [*prefix, row, column]), column

        ext = cell(f.get("external_id"))
        if not ext:
            loc, column = col_loc("external_id")
            self._err(errs, loc, row, column, "missing", "Не указан код педагога")
        elif not EXTERNAL_ID.match(ext):
            loc, column = col_loc("external_id")
            self._err(
                errs,
                loc,
                row,
                column,
                "invalid-external-id",
                "Код педагога — от 1 до 64 символов: латинские буквы, цифры и знаки _ . : -",
            )
        else:
            first = self.seen.get(ext)
            if first is not None:
                loc, column = col_loc("external_id")
                self._err(errs, loc, row, column, "duplicate-in-batch", f"Педагог уже есть в строке {first}")
            else:
                self.seen[ext] = row
        # Registry fields: optional, but when given they must be valid.
        full_name = cell(f.get("full_name"))
        mun = cell(f.get("municipality"))
        org = cell(f.get("organisation"))
        position = cell(f.get("position")) or DEFAULT_POSITION
        region = ""
        if full_name and not (3 <= len(full_name) <= 300):
            loc, column = col_loc("full_name")
            self._err(errs, loc, row, column, "invalid-name", "ФИО должно содержать от 3 до 300 символов")
        if len(position) > 300:
            loc, column = col_loc("position")
            self._err(errs, loc, row, column, "too-long", "Должность — не длиннее 300 символов")
        if mun or org:
            o = self.orgs.get(org)
            if o is None or o.municipality != mun:
                loc, column = col_loc("organisation")
                self._err(
                    errs,
                    loc,
                    row,
                    column,
                    "unknown-organisation",
                    "Образовательная организация не найдена или относится к другому муниципалитету",
                )
            else:
                region = o.region
        registrable = bool(full_name and region)
        total_cell = cell(f.get("total"))
        total: float | None = None
        if total_cell:
            total = _slow_number(total_cell)
            loc, column = col_loc("total")
            if total is None:
                self._err(errs, loc, row, column, "not-a-number", "Итоговый балл должен быть числом")
            elif total < 0:
                self._err(errs, loc, row, column, "negative-score", "Итоговый балл не может быть отрицательным")
            elif total > self.ins.max_total + 1e-9:
                self._err(
                    errs,
                    loc,
                    row,
                    column,
                    "above-max",
                    f"Итоговый балл больше максимального ({fmt_points(self.ins.max_total)})",
                )
        elif item_points is None and comp_points is None and not errs:
            loc, column = col_loc("total")
            self._err(errs, loc, row, column, "missing-score", "Нет итогового балла")
        level_cell = cell(f.get("level"))
        reported: Level | None = None
        if level_cell:
            reported = LEVEL_ALIASES.get(level_cell.casefold())
            if reported is None:
                loc, column = col_loc("level")
                self._err(
                    errs,
                    loc,
                    row,
                    column,
                    "invalid-level",
                    "Укажите уровень: «низкий», «базовый», «повышенный», «высокий» или номер от 1 до 4",
                )
        if errs:
            self._finish(errs)
            return
        score = score_result(
            self.fw,
            self.ins,
            item_points=item_points,
            competency_points=comp_points,
            total=total,
            reported_level=reported,
        )
        if (
            total is not None
            and (item_points is not None or comp_points is not None)
            and abs(total - score.total) > 0.005
        ):
            loc, column = col_loc("total")
            self._err(errs, loc, row, column, "total-mismatch", "Итоговый балл не равен сумме баллов")
            self._finish(errs)
            return
        if item_points is not None:
            items_text = "{" + ",".join(raw_items if raw_items is not None else map(fmt_points, item_points)) + "}"
        else:
            items_text = None
        self.writer.writerow(
            (
                row,
                ext,
                full_name if registrable else None,
                normalize_name(full_name) if registrable else None,
                region or None,
                mun or None,
                org or None,
                position,
                items_text,
                "{" + ",".join(map(fmt_points, score.competency_points)) + "}",
                fmt_points(score.total),
                fmt_points(score.max_total),
                fmt_points(score.percent),
                score.level.value,
                score.group,
                score.level_source,
                "{" + ",".join(score.deficits) + "}",
                "{" + ",".join(score.growth) + "}",
                "{" + ",".join(score.strengths) + "}",
            )
        )
        self.outcome.staged += 1


def check_upload(
    spool: SpooledBody,
    fmt: str,
    charset: str | None,
    framework: Framework,
    instrument: Instrument,
    organisations: dict[str, Organisation],
    stage_path: Path,
    *,
    max_errors: int,
    max_json_rows: int,
    archive_limits: ArchiveLimits,
) -> Outcome:
    """Read every row of the upload, write the good ones (scored) to `stage_path`, report the bad ones."""
    with open(stage_path, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
        checker = RowChecker(framework, instrument, organisations, out, max_errors=max_errors)
        if fmt == FORMAT_JSON:
            rows = json_rows(spool)
            if len(rows) > max_json_rows:
                raise UploadRejected(
                    413,
                    "too-many-rows",
                    f"В пакете JSON допустимо не более {max_json_rows} строк; больше загружайте файлом CSV или XLSX",
                )
            for i, obj in enumerate(rows, start=1):
                checker.check_json(i, obj)
        else:
            if spool.size == 0:
                raise UploadRejected(422, "empty-file", "Файл пуст")
            header, data = csv_rows(spool, charset) if fmt == FORMAT_CSV else xlsx_rows(spool, archive_limits)
            cols = map_header(header, instrument)
            prefix: list[str | int] = ["row"]
            for i, cells in enumerate(data, start=1):
                checker.check(i, cells, cols, prefix)
            if checker.outcome.rows == 0:
                raise UploadRejected(422, "no-rows", "В файле есть строка заголовков, но нет строк с данными")
    return checker.outcome
