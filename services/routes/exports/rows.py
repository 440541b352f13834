"""The export's columns, and the row of one route built from the parts of its document the query fetches."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from services.routes.labels import LEVEL_LABELS, STATUS_RU, subject_label
from services.routes.selfcheck import evaluate

# The columns of the CSV and of every sheet, in order, with their widths in the workbook.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("ФИО педагога", 38),
    ("ОО", 14),
    ("Предмет", 24),
    ("Уровень / группа", 20),
    ("Статус маршрута", 30),
    ("Период", 25),
    ("Дефициты", 22),
    ("Число задач", 10),
    ("Наставник", 32),
    ("Ближайшая контрольная точка", 16),
    ("Самопроверка (авто, из 10)", 14),
)
HEADERS = tuple(header for header, _ in COLUMNS)
COLUMN_WIDTHS = tuple(width for _, width in COLUMNS)
DATE_COLUMN = HEADERS.index("Ближайшая контрольная точка")
NO_MENTOR = "не назначен"
# Group 1 (insufficient level) is what a municipal service looks at first: it leads the rows and is
# highlighted in the workbook.
HIGHLIGHTED_GROUP = 1

# The part of a route document the export reads, by path: period, mentoring, deficits and the goals
# (whole: the self-check reads tasks and forms); the rest (recommendations, the competency table,
# profiles) is a quarter of the bytes. tests/routes/test_exports.py checks that the self-check and
# the row read nothing else. `queries.month_query` fetches these parts, each in jsonb's binary form.
KEPT = {
    "": ("period", "mentoring", "sections"),
    "sections": ("competency_profile", "goals"),
    "sections.competency_profile": ("deficits",),
}
JSONB_VERSION = b"\x01"


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One route as the municipal service sees it in the export."""

    route_id: uuid.UUID
    teacher_id: uuid.UUID
    external_id: str
    teacher_name: str
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int
    status: str
    period_start: date
    period_end: date
    deficits: tuple[str, ...]
    tasks: int
    mentor_id: str | None
    mentor: str
    next_control_on: date | None
    self_check: int

    @property
    def highlighted(self) -> bool:
        return self.group == HIGHLIGHTED_GROUP

    def cells(self) -> list[Any]:
        """Values in HEADERS order (the control point as a date; text not yet escaped)."""
        return [
            self.teacher_name,
            self.organisation,
            subject_label(self.subject),
            f"{LEVEL_LABELS.get(self.group, '—')} (группа {self.group})",
            STATUS_RU.get(self.status, self.status),
            f"{self.period_start:%d.%m.%Y} – {self.period_end:%d.%m.%Y}",
            ", ".join(self.deficits),
            self.tasks,
            self.mentor,
            self.next_control_on,
            self.self_check,
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "route_id": str(self.route_id),
            "teacher_id": str(self.teacher_id),
            "external_id": self.external_id,
            "teacher_name": self.teacher_name,
            "region": self.region,
            "municipality": self.municipality,
            "organisation": self.organisation,
            "subject": self.subject,
            "subject_label": subject_label(self.subject),
            "group": self.group,
            "level": LEVEL_LABELS.get(self.group),
            "status": self.status,
            "status_label": STATUS_RU.get(self.status, self.status),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "deficits": list(self.deficits),
            "tasks": self.tasks,
            "mentor_id": self.mentor_id,
            "mentor": self.mentor or None,
            "next_control_on": self.next_control_on.isoformat() if self.next_control_on else None,
            "self_check_auto": self.self_check,
        }


def _mentor(content: Mapping[str, Any], mentor_id: str | None) -> str:
    mentoring = content.get("mentoring")
    if isinstance(mentoring, Mapping):
        label = mentoring.get("label") or mentoring.get("mentor_id") or mentor_id
        return str(label) if label else NO_MENTOR
    return mentor_id or ""


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
    sections: dict[str, Any] = {}
    if (raw := r["doc_deficits"]) is not None:
        sections["competency_profile"] = {"deficits": _json(raw)}
    if (raw := r["doc_goals"]) is not None:
        sections["goals"] = _json(raw)
    doc["sections"] = sections
    return doc


def export_row(r: Mapping[str, Any]) -> ExportRow:
    """Build the export row of one route (a mapping of the columns `month_query` selects)."""
    content = document(r)
    sections = content.get("sections") or {}
    goals = sections.get("goals") or []
    return ExportRow(
        route_id=r["id"],
        teacher_id=r["teacher_id"],
        external_id=r["external_id"],
        teacher_name=r["teacher_name"],
        region=r["region"],
        municipality=r["municipality"],
        organisation=r["organisation"],
        subject=r["subject"],
        group=int(r["grp"]),
        status=r["status"],
        period_start=r["period_start"],
        period_end=r["period_end"],
        deficits=tuple(str(d) for d in (sections.get("competency_profile") or {}).get("deficits") or []),
        tasks=sum(len(g.get("tasks") or []) for g in goals),
        mentor_id=r["mentor_id"],
        mentor=_mentor(content, r["mentor_id"]),
        next_control_on=r["next_control_on"],
        # The machine's part of the self-check: what people scored does not change it.
        self_check=int(evaluate(content)["auto_total"]),
    )


def export_rows(raw: Iterable[Mapping[str, Any]]) -> list[ExportRow]:
    return [export_row(r) for r in raw]
