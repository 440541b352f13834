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
# Subjects by name (the codes of the assessment's directory of subjects).
SUBJECT_RU = {
    "russian": "Русский язык",
    "literature": "Литература",
    "mathematics": "Математика",
    "informatics": "Информатика",
    "history": "История",
    "social_studies": "Обществознание",
    "physics": "Физика",
    "chemistry": "Химия",
    "biology": "Биология",
    "geography": "География",
    "technology": "Технология",
    "english": "Английский язык",
    "german": "Немецкий язык",
    "french": "Французский язык",
    "primary": "Начальные классы",
}
DEMAND_SOURCE_RU = {
    "assessment": "результаты оценки педагогов (педагоги с дефицитами по предмету)",
    "request": "данные, переданные в запросе",
    "unavailable": "потребность неизвестна: сервис результатов оценки не ответил",
}


def subject_name(code: str) -> str:
    return SUBJECT_RU.get(code, "предмет вне справочника")


# A municipality the assessment directory does not name (or did not answer for).
NOT_IN_DIRECTORY = "нет в справочнике"


CELL_HEADER = [
    "Муниципалитет",
    "Код муниципалитета",
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
    """The workbook of a coverage answer (text cells escaped against formula injection): municipalities by
    name (`municipality_names` of the answer), the code beside; subjects, statuses and the source in words."""
    from openpyxl import Workbook

    names = result.get("municipality_names") or {}

    def name(code: str) -> Any:
        return xlsx_cell(names.get(code) or NOT_IN_DIRECTORY)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Покрытие")
    ws.append(CELL_HEADER)
    for c in result["cells"]:
        ws.append(
            [
                name(c["municipality"]),
                xlsx_cell(c["municipality"]),
                subject_name(c["subject"]),
                c["demand"],
                c["methodists"],
                c["free_slots"],
                c["neighbour_methodists"],
                c["online_methodists"],
                c["resources"],
                c["cross_subject_resources"],
                c["shortfall"],
                STATUS_RU.get(c["status"], "статус не распознан"),
            ]
        )
    ws2 = wb.create_sheet("Без методистов")
    ws2.append(["Муниципалитет", "Код муниципалитета"])
    for m in result["municipalities_without_methodists"]:
        ws2.append([name(m), xlsx_cell(m)])
    ws3 = wb.create_sheet("Дефицит методистов")
    ws3.append(SHORT_HEADER)
    for s in result["subjects_short_of_methodists"]:
        ws3.append(
            [
                subject_name(s["subject"]),
                s["demand"],
                s["methodists"],
                s["free_slots"],
                s["shortfall"],
                s["municipalities_without_methodists"],
            ]
        )
    ws4 = wb.create_sheet("Источник")
    # The note is the upstream's technical reason (for logs and the JSON answer); the source says it in words.
    ws4.append(["Источник потребности", DEMAND_SOURCE_RU.get(result["demand_source"], "не указан")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
