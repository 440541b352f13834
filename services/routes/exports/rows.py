"""The export's columns, and the row of one route built from the parts of its document the query fetches."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from services.routes.exports.month import Month
from services.routes.exports.names import Directory
from services.routes.labels import LEVEL_LABELS, STATUS_RU, subject_label
from services.routes.selfcheck import evaluate

# The columns of the CSV and of every sheet, in order, with their widths in the workbook. A school and a
# municipality by name, each code in a column of its own; deficits by competency name.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("ФИО педагога", 34),
    ("Муниципалитет", 28),
    ("Код муниципалитета", 12),
    ("Образовательная организация", 34),
    ("Код ОО", 12),
    ("Предмет", 22),
    ("Уровень / группа поддержки", 20),
    ("Статус маршрута", 28),
    ("Период", 24),
    ("Дефициты", 48),
    ("Число задач", 9),
    ("Наставник", 30),
    ("Контакт наставника", 16),
    ("Ближайшая контрольная точка", 14),
    ("Что предъявляется", 48),
    ("Кто проверяет", 30),
    ("Самопроверка по данным маршрута, баллов из 10", 14),
)
HEADERS = tuple(header for header, _ in COLUMNS)
COLUMN_WIDTHS = tuple(width for _, width in COLUMNS)
DATE_COLUMN = HEADERS.index("Ближайшая контрольная точка")
NO_MENTOR = "не назначен"
# Neither the teacher registry nor the resource map holds a mentor's e-mail or telephone yet.
NO_CONTACT = "не указан"
NO_CONTROL_POINT = "контрольных точек не осталось"
OVERDUE = "срок прошёл: "
# Group 1 (insufficient level) is what a municipal service looks at first: it leads the rows and is
# highlighted in the workbook.
HIGHLIGHTED_GROUP = 1

# The part of a route document the export reads, by path: period, mentoring, control points, deficits
# and the goals (whole: the self-check reads tasks and forms; deficits are named from them); the rest
# (recommendations, the competency table, profiles) is a quarter of the bytes.
# tests/routes/test_exports.py checks that the self-check and the row read nothing else.
# `queries.month_query` fetches these parts, each in jsonb's binary form.
KEPT = {
    "": ("period", "mentoring", "control_points", "sections"),
    "sections": ("competency_profile", "goals"),
    "sections.competency_profile": ("deficits",),
}
JSONB_VERSION = b"\x01"


@dataclass(frozen=True, slots=True)
class ControlPoint:
    """The next control point of a route in the month exported: its date, what is presented, who checks."""

    on: date
    what: str
    checked_by: str


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One route as the municipal service sees it in the export."""

    route_id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    teacher_name: str
    region: str
    municipality: str
    municipality_name: str
    organisation: str
    organisation_name: str
    subject: str | None
    group: int
    status: str
    period_start: date
    period_end: date
    deficits: tuple[str, ...]  # codes
    deficit_names: tuple[str, ...]
    tasks: int
    mentor_id: str | None
    mentor: str
    mentor_contact: str | None
    next_control: ControlPoint | None
    self_check: int
    self_check_max: int = 10

    @property
    def highlighted(self) -> bool:
        return self.group == HIGHLIGHTED_GROUP

    @property
    def next_control_on(self) -> date | None:
        return self.next_control.on if self.next_control else None

    def cells(self) -> list[Any]:
        """Values in HEADERS order (the control point as a date; text not yet escaped)."""
        cp = self.next_control
        return [
            self.teacher_name,
            self.municipality_name,
            self.municipality,
            self.organisation_name,
            self.organisation,
            subject_label(self.subject),
            group_label(self.group),
            STATUS_RU.get(self.status, "статус не распознан"),
            f"{self.period_start:%d.%m.%Y} – {self.period_end:%d.%m.%Y}",
            "; ".join(self.deficit_names) or "не выявлены",
            self.tasks,
            self.mentor or NO_MENTOR,
            self.mentor_contact if self.mentor_id else "",
            cp.on if cp else None,
            cp.what if cp else NO_CONTROL_POINT,
            cp.checked_by if cp else "",
            self.self_check,
        ]

    def as_json(self) -> dict[str, Any]:
        cp = self.next_control
        return {
            "route_id": str(self.route_id),
            "teacher_id": str(self.teacher_id),
            "external_id": self.external_id,
            "teacher_name": self.teacher_name,
            "region": self.region,
            "municipality": self.municipality,
            "municipality_name": self.municipality_name,
            "organisation": self.organisation,
            "organisation_name": self.organisation_name,
            "subject": self.subject,
            "subject_label": subject_label(self.subject),
            "group": self.group,
            "level": LEVEL_LABELS.get(self.group),
            "group_label": group_label(self.group),
            "status": self.status,
            "status_label": STATUS_RU.get(self.status, "статус не распознан"),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "deficits": list(self.deficits),
            "deficit_names": list(self.deficit_names),
            "tasks": self.tasks,
            "mentor_id": self.mentor_id,
            "mentor": self.mentor or None,
            "mentor_contact": self.mentor_contact if self.mentor_id else None,
            "next_control_on": cp.on.isoformat() if cp else None,
            "next_control_what": cp.what if cp else None,
            "next_control_checked_by": cp.checked_by if cp else None,
            "self_check_auto": self.self_check,
            "self_check_auto_max": self.self_check_max,
        }


def group_label(group: int) -> str:
    """«низкий уровень (группа 1)»: the level and the support group."""
    level = LEVEL_LABELS.get(group)
    return f"{level} уровень (группа {group})" if level else f"группа {group}"


def _mentor(content: Mapping[str, Any], mentor_id: str | None) -> str:
    mentoring = content.get("mentoring")
    if isinstance(mentoring, Mapping):
        label = mentoring.get("label")
        if label:
            return str(label)
        return "наставник назначен, имя не указано" if (mentoring.get("mentor_id") or mentor_id) else NO_MENTOR
    return "наставник назначен, имя не указано" if mentor_id else ""


def _json(raw: bytes) -> Any:
    """A value in jsonb's binary form: a version byte (1), then the JSON text in UTF-8."""
    if not raw.startswith(JSONB_VERSION):
        raise ValueError("not jsonb version 1")
    return orjson.loads(memoryview(raw)[1:])


def document(r: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a route document the export reads (KEPT), from the columns `month_query` selects;
    a part the document does not have is left out, as if read from the whole document."""
    doc: dict[str, Any] = {}
    if (raw := r["doc_period"]) is not None:
        doc["period"] = _json(raw)
    if (raw := r["doc_mentoring"]) is not None:
        doc["mentoring"] = _json(raw)
    if (raw := r.get("doc_control_points")) is not None:
        doc["control_points"] = _json(raw)
    sections: dict[str, Any] = {}
    if (raw := r["doc_deficits"]) is not None:
        sections["competency_profile"] = {"deficits": _json(raw)}
    if (raw := r["doc_goals"]) is not None:
        sections["goals"] = _json(raw)
    doc["sections"] = sections
    return doc


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _points(content: Mapping[str, Any], goals: list[Any]) -> list[tuple[date, str, str, str]]:
    """(date, task id, what, who checks) of every control point: the route's list, or, in a route made before
    it had one, each task's own point."""
    listed = content.get("control_points")
    out = []
    if isinstance(listed, list):
        for p in listed:
            if isinstance(p, Mapping) and (on := _day(p.get("date"))) is not None:
                out.append((on, str(p.get("task_id") or ""), str(p.get("what") or ""), str(p.get("checked_by") or "")))
        return out
    for g in goals:
        for t in g.get("tasks") or []:
            cp = t.get("control_point") or {}
            if (on := _day(cp.get("date") or t.get("ends_on"))) is not None:
                out.append((on, str(t.get("id") or ""), str(cp.get("what") or ""), ""))
    return out


def next_control_point(content: Mapping[str, Any], goals: list[Any], month: Month) -> ControlPoint | None:
    """The first control point of a task not yet done on or after the month's first day; when every one left
    is earlier, the earliest of them (overdue: its text says so)."""
    done = {str(t.get("id")) for g in goals for t in g.get("tasks") or [] if t.get("done")}
    open_points = sorted(p for p in _points(content, goals) if p[1] not in done)
    if not open_points:
        return None
    ahead = [p for p in open_points if p[0] >= month.first]
    on, _task, what, who = ahead[0] if ahead else open_points[0]
    what = what or "предъявление результата задачи"
    return ControlPoint(on, what if ahead else OVERDUE + what, who or "не указано")


def _deficit_names(codes: tuple[str, ...], goals: list[Any]) -> tuple[str, ...]:
    names = {str(g.get("competency") or g.get("id")): g.get("competency_name") for g in goals}
    return tuple(str(names.get(c) or "компетенция без названия в маршруте") for c in codes)


def export_row(r: Mapping[str, Any], month: Month, names: Directory) -> ExportRow:
    """Build the export row of one route (a mapping of the columns `month_query` selects)."""
    content = document(r)
    sections = content.get("sections") or {}
    goals = sections.get("goals") or []
    deficits = tuple(str(d) for d in (sections.get("competency_profile") or {}).get("deficits") or [])
    # The machine's part of the self-check: what people scored does not change it.
    checked = evaluate(content)
    return ExportRow(
        route_id=r["id"],
        teacher_id=r["teacher_id"],
        external_id=r["external_id"],
        teacher_name=r["teacher_name"],
        region=r["region"],
        municipality=r["municipality"],
        municipality_name=names.municipality(r["municipality"]),
        organisation=r["organisation"],
        organisation_name=names.organisation(r["organisation"]),
        subject=r["subject"],
        group=int(r["grp"]),
        status=r["status"],
        period_start=r["period_start"],
        period_end=r["period_end"],
        deficits=deficits,
        deficit_names=_deficit_names(deficits, goals),
        tasks=sum(len(g.get("tasks") or []) for g in goals),
        mentor_id=r["mentor_id"],
        mentor=_mentor(content, r["mentor_id"]),
        mentor_contact=NO_CONTACT,
        next_control=next_control_point(content, goals, month),
        self_check=int(checked["auto_total"]),
        self_check_max=int(checked.get("auto_max") or 10),
    )


def export_rows(raw: Iterable[Mapping[str, Any]], month: Month, names: Directory) -> list[ExportRow]:
    return [export_row(r, month, names) for r in raw]
