"""The picture a region reports as an XLSX workbook (issue 15 point 5): members by subject, by municipality (the
rows of municipalities without members highlighted), growth per subject over the years, the need, training and
expert work; texts escaped against formula injection (`kit.tabular.xlsx_cell`), everything in Russian."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from kit.tabular import xlsx_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The fill of a municipality without members (the monitoring's red band colour).
ZERO_FILL = PatternFill(start_color="F8696B", end_color="F8696B", fill_type="solid")
BOLD = Font(bold=True)
NO_DATA = "нет данных"


def _sheet(wb: Workbook, title: str, header: list[str], widths: list[int]) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = BOLD
    for i, w in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = w
    return ws


def _or_none(value: Any) -> Any:
    return NO_DATA if value is None else value


def _subjects(wb: Workbook, s: dict[str, Any]) -> None:
    ws = _sheet(wb, "По предметам", ["Предмет", "Членов актива"], [32, 16])
    for r in s["by_subject"]:
        ws.append([xlsx_cell(r["label"]), r["count"]])
    ws.append(["Всего членов актива", s["members"]])


def _municipalities(wb: Workbook, s: dict[str, Any]) -> None:
    ws = _sheet(wb, "По муниципалитетам", ["Муниципалитет", "Код муниципалитета", "Членов актива"], [36, 20, 16])
    for r in s["by_municipality"]:
        ws.append([xlsx_cell(r["name"]), xlsx_cell(r["municipality"]), r["count"]])
        if r["count"] == 0:
            for col in range(1, 4):
                ws.cell(row=ws.max_row, column=col).fill = ZERO_FILL
    if not s["directory"]["available"]:
        ws.append([xlsx_cell(s["directory"]["note"])])
    monitoring = s["monitoring"]
    ws.append([])
    ws.append(["Мониторинг муниципалитетов без членов актива"])
    ws[ws.max_row][0].font = BOLD
    if monitoring.get("campaign"):
        ws.append(["Кампания мониторинга", xlsx_cell(monitoring["campaign"]["title"])])
        ws.append(["Муниципалитет", "Код муниципалитета", "Баллов из 100", "Процент", "Зона"])
        for r in monitoring["items"]:
            ws.append(
                [
                    xlsx_cell(r["name"]),
                    xlsx_cell(r["municipality"]),
                    _or_none(r["total"]),
                    _or_none(r["total_percent"]),
                    xlsx_cell(r["band_label"] or NO_DATA),
                ]
            )
    else:
        ws.append([xlsx_cell(monitoring.get("note") or NO_DATA)])


def _growth(wb: Workbook, s: dict[str, Any]) -> None:
    years = [str(y) for y in s["years"]]
    ws = _sheet(wb, "Динамика", ["Предмет", *[f"{y} год" for y in years]], [32, *[12] * len(years)])
    for r in s["growth"]:
        ws.append([xlsx_cell(r["label"]), *[r["counts"].get(y, 0) for y in years]])


def _need(wb: Workbook, s: dict[str, Any]) -> None:
    header = ["Предмет", "Муниципалитет", "Педагогов в группах 1–2", "Членов актива", "Педагогов на одного члена"]
    ws = _sheet(wb, "Потребность", header, [28, 36, 24, 16, 26])
    need = s["need"]
    if need.get("note"):
        ws.append([xlsx_cell(need["note"])])
    for r in need.get("items", []):
        ws.append(
            [
                xlsx_cell(r["label"]),
                xlsx_cell(r["name"]),
                r["teachers"],
                r["members"],
                xlsx_cell("нет членов актива") if r["teachers_per_member"] is None else r["teachers_per_member"],
            ]
        )


def _work(wb: Workbook, s: dict[str, Any]) -> None:
    ws = _sheet(wb, "Обучение и экспертиза", ["Показатель", "Зачислено", "Завершили обучение"], [44, 14, 22])
    for r in s["training"]["by_status"]:
        ws.append([xlsx_cell(f"Обучение: {r['label']}"), r["enrolled"], r["completed"]])
    ws.append(["Обучение: всего", s["training"]["enrolled"], s["training"]["completed"]])
    ws.append([])
    ws.append(["Экспертная работа", "Поручений", "Нагрузка", "Членов актива"])
    for r in s["expert_work"]:
        ws.append([xlsx_cell(r["label"]), r["assignments"], r["load"], r["members"]])


def summary_workbook(s: dict[str, Any]) -> bytes:
    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    for part in (_subjects, _municipalities, _growth, _need, _work):
        part(wb, s)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
