"""Coverage as an XLSX workbook: cells, municipalities without methodists, subjects short of them, the source."""

from __future__ import annotations

import io
from typing import Any

from kit.tabular import xlsx_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_RU = {
    "no-methodists": "нет методистов",
    "short": "не хватает",
    "covered": "покрыто",
    "no-demand": "нет потребности",
    "unknown-demand": "потребность неизвестна",
}
CELL_HEADER = [
    "Муниципалитет",
    "Предмет",
    "Потребность (педагогов с дефицитами)",
    "Методистов",
    "Свободных мест",
    "Методистов в соседних",
    "Онлайн-методистов в регионе",
    "Ресурсов по предмету",
    "Межпредметных ресурсов",
    "Нехватка",
    "Статус",
]
SHORT_HEADER = ["Предмет", "Потребность", "Методистов", "Свободных мест", "Нехватка", "Муниципалитетов без методистов"]


def coverage_workbook(result: dict[str, Any]) -> bytes:
    """The workbook of a coverage answer (text cells escaped against formula injection)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Покрытие")
    ws.append(CELL_HEADER)
    for c in result["cells"]:
        ws.append(
            [
                xlsx_cell(c["municipality"]),
                xlsx_cell(c["subject"]),
                c["demand"],
                c["methodists"],
                c["free_slots"],
                c["neighbour_methodists"],
                c["online_methodists"],
                c["resources"],
                c["cross_subject_resources"],
                c["shortfall"],
                STATUS_RU.get(c["status"], c["status"]),
            ]
        )
    ws2 = wb.create_sheet("Без методистов")
    ws2.append(["Муниципалитет"])
    for m in result["municipalities_without_methodists"]:
        ws2.append([xlsx_cell(m)])
    ws3 = wb.create_sheet("Дефицит методистов")
    ws3.append(SHORT_HEADER)
    for s in result["subjects_short_of_methodists"]:
        ws3.append(
            [
                xlsx_cell(s["subject"]),
                s["demand"],
                s["methodists"],
                s["free_slots"],
                s["shortfall"],
                s["municipalities_without_methodists"],
            ]
        )
    ws4 = wb.create_sheet("Источник")
    ws4.append(["Регион", xlsx_cell(result["region"] or "")])
    ws4.append(["Источник потребности", result["demand_source"]])
    if result.get("demand_note"):
        ws4.append(["Примечание", xlsx_cell(result["demand_note"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
