"""Route (ИОМ) generation as pure functions: deficits + resource alternatives -> route content.

Every generated element carries a `reason` saying which deficit, which item results and which
rule produced it, so that a methodologist can see why it is there.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.routes.rules import Constructor, constructor, generation_rules

AREA_BY_CODE_PREFIX = {"M1": "planning", "M2": "technologies", "M3": "assessment", "M4": "collaboration"}
SUBJECT_LABELS = {
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
LEVEL_LABELS = {1: "низкий", 2: "базовый", 3: "повышенный", 4: "высокий"}
# Forms suited to learning first, and to trying things in practice first.
# (kinds of the resource map: course, project, event, internship, community, methodological_association,
# self_study, peer_resource)
LEARNING_KINDS = ("course", "event", "self_study", "project")
PRACTICE_KINDS = ("internship", "community", "methodological_association", "peer_resource", "project", "event")


@dataclass(frozen=True)
class CompetencyResult:
    code: str
    name: str
    percent: float
    status: str  # deficit | growth | strength
    area: str = ""
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def area_key(self) -> str:
        """planning / technologies / assessment / collaboration for the four methodological areas, else subject."""
        by_code = AREA_BY_CODE_PREFIX.get(self.code.split(".")[0])
        if by_code:
            return by_code
        return self.area if self.area in ("planning", "technologies", "assessment", "collaboration") else "subject"


@dataclass(frozen=True)
class Snapshot:
    """What generation needs to know about one teacher's assessment result."""

    teacher_id: str
    region: str
    municipality: str
    organisation: str
    subject: str | None
    group: int
    assessed_on: date
    competencies: tuple[CompetencyResult, ...]
    full_name: str = ""
    external_id: str = ""
    position: str = ""
    experience_years: int | None = None
    qualification_category: str | None = None
    campaign_id: str | None = None
    result_id: str | None = None
    result_version: int = 1
    total_percent: float | None = None
    framework_version: str | None = None

    def deficits(self) -> list[CompetencyResult]:
        """Deficits weakest first; without deficits, growth points stand in for them."""
        found = sorted((c for c in self.competencies if c.status == "deficit"), key=lambda c: (c.percent, c.code))
        if found:
            return found
        return sorted((c for c in self.competencies if c.status == "growth"), key=lambda c: (c.percent, c.code))[:2]

    def strengths(self) -> list[CompetencyResult]:
        return sorted((c for c in self.competencies if c.status == "strength"), key=lambda c: (-c.percent, c.code))


@dataclass(frozen=True)
class Alternative:
    """A concrete form of work offered by the resource map for one deficit."""

    resource_id: str
    kind: str
    title: str
    learning_type: str = "formal"
    mode: str = "online"
    starts_on: date | None = None
    ends_on: date | None = None
    hours: int | None = None
    provider: str | None = None
    reason: str = ""
    score: float = 0.0

    def as_form(self, why: str) -> dict[str, Any]:
        return {
            "resource_id": self.resource_id,
            "kind": self.kind,
            "title": self.title,
            "learning_type": self.learning_type,
            "mode": self.mode,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "hours": self.hours,
            "provider": self.provider,
            "reason": f"{why}; {self.reason}" if self.reason else why,
        }


@dataclass(frozen=True)
class MentorChoice:
    mentor_id: str | None
    label: str | None = None
    reason: str = ""


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def period_key(on: date) -> str:
    """Routes are one per teacher and half-year of the assessment (e.g. 2026-H2)."""
    return f"{on.year}-H{1 if on.month <= 6 else 2}"


def subject_label(subject: str | None) -> str:
    return SUBJECT_LABELS.get(subject or "", subject or "по профилю деятельности")


def _explain(c: CompetencyResult) -> str:
    ex = c.explanation or {}
    items = ex.get("items") or []
    weak = [i for i in items if isinstance(i, dict)]
    parts = [f"дефицит «{c.name}» ({c.code}): {c.percent:.0f}%"]
    if "threshold" in ex:
        parts.append(f"порог {ex['threshold']}")
    if weak:
        got = sum(float(i.get("points", 0)) for i in weak)
        top = sum(float(i.get("max", 0)) for i in weak)
        names = ", ".join(str(i.get("item") or i.get("code")) for i in weak[:5])
        parts.append(f"задания {names}: {got:g} из {top:g} баллов")
    return "; ".join(parts)


def _focus(c: CompetencyResult) -> str:
    skills = [str(i.get("skill") or "") for i in (c.explanation or {}).get("items") or [] if isinstance(i, dict)]
    skills = [s for s in skills if s]
    return f" ({'; '.join(skills[:2])})" if skills else ""


def _pick_forms(
    alternatives: list[Alternative], kind: str, start: date, end: date, limit: int
) -> tuple[list[Alternative], str]:
    """Choose up to `limit` alternatives for a task window, preferring kinds that fit the task
    and a mix of formal, non-formal and informal learning."""
    preferred = LEARNING_KINDS if kind == "learning" else PRACTICE_KINDS

    def fits(a: Alternative) -> bool:
        if a.starts_on and a.starts_on > end:
            return False
        return not (a.ends_on and a.ends_on < start)

    usable = [a for a in alternatives if fits(a)]
    ranked = sorted(
        usable,
        key=lambda a: (0 if a.kind in preferred else 1, -a.score, a.starts_on or date.max, a.resource_id),
    )
    chosen: list[Alternative] = []
    seen_types: set[str] = set()
    for a in ranked:  # first pass: one per learning type
        if a.learning_type not in seen_types:
            chosen.append(a)
            seen_types.add(a.learning_type)
        if len(chosen) == limit:
            break
    for a in ranked:
        if len(chosen) >= limit:
            break
        if a not in chosen:
            chosen.append(a)
    rule = (
        "формы, подходящие к типу задачи, затем по рангу подбора; смешение формального, неформального и информального"
    )
    return chosen, rule


def generate(
    snap: Snapshot,
    matches: dict[str, list[Alternative]],
    mentor: MentorChoice | None,
    today: date,
    rules: dict[str, Any] | None = None,
    cons: Constructor | None = None,
) -> dict[str, Any]:
    """Build the route content (sections 1-7 of the ИОМ) for one teacher."""
    rules = rules or generation_rules()
    cons = cons or constructor()
    g = rules["groups"][str(snap.group)]
    start = max(today, snap.assessed_on)
    end = add_months(start, int(g["months"]))
    subject = subject_label(snap.subject)
    deficits = snap.deficits()
    # Learning comes first, trying it in practice second; the goals run side by side, as teachers
    # work on several deficits at once (the self-check weighs the workload).
    learn_end = start + timedelta(days=int((end - start).days * float(rules["learning_share_of_period"])))
    goals: list[dict[str, Any]] = []
    for i, c in enumerate(deficits):
        why = _explain(c)
        area = c.area_key
        problem_tpl = rules["problem_by_area"].get(area, rules["problem_by_area"]["default"])
        tasks = []
        for kind, window, verb, row_index in (
            ("learning", (start, learn_end), g["learning_verb"], int(g["learning_row"])),
            ("practice_change", (learn_end, end), g["practice_verb"], int(g["practice_row"])),
        ):
            rows = cons.rows(kind)
            row = rows[min(row_index, len(rows) - 1)]
            forms_ok = [f for f in row.result_forms if f != "и др."]
            result_form = forms_ok[i % len(forms_ok)]
            alts, pick_rule = _pick_forms(matches.get(c.code, []), kind, window[0], window[1], int(g["alternatives"]))
            tasks.append(
                {
                    "id": f"{c.code}-{'L' if kind == 'learning' else 'P'}",
                    "kind": kind,
                    "formulation": rules["task_templates"][kind].format(verb=verb, competency=c.name, focus=_focus(c)),
                    "forms": [a.as_form(f"закрывает дефицит {c.code}") for a in alts],
                    "chosen_resource_id": None,
                    "starts_on": window[0].isoformat(),
                    "ends_on": window[1].isoformat(),
                    "control_point": {
                        "date": window[1].isoformat(),
                        "what": f"Предъявление результата: {result_form}",
                    },
                    "result_form": result_form,
                    # The item-level explanation sits once on the goal; the task names its deficit and rule.
                    "reason": {
                        "deficit": c.code,
                        "rule": f"группа {snap.group}: {kind} — «{verb}», строка {row_index + 1} конструктора задач; "
                        f"формы: {pick_rule}",
                    },
                }
            )
        goals.append(
            {
                "id": c.code,
                "competency": c.code,
                "competency_name": c.name,
                "problem": problem_tpl.format(subject=subject, competency=c.name),
                "reason": {"deficit": c.code, "explanation": why, "rule": f"область «{area}» -> формулировка проблемы"},
                "tasks": tasks,
            }
        )
    recs: list[dict[str, Any]] = []
    for c in deficits:
        recs.append(
            {
                "text": rules["recommendations"]["deficit"].format(competency=c.name),
                "reason": {"deficit": c.code, "rule": "альтернативы по каждому дефициту"},
            }
        )
    for c in snap.strengths():
        recs.append(
            {
                "text": rules["recommendations"]["strength"].format(competency=c.name),
                "reason": {"strength": c.code, "rule": "точка опоры -> горизонтальное обучение"},
            }
        )
    mentoring: dict[str, Any] | None = None
    if g["mentor"] == "required" or (mentor is not None and mentor.mentor_id):
        if mentor is not None and mentor.mentor_id:
            mentoring = {
                "mentor_id": mentor.mentor_id,
                "label": mentor.label,
                "reason": mentor.reason or f"группа {snap.group}: наставник обязателен",
                "programme_years": g.get("mentoring_programme_years"),
            }
            recs.append(
                {
                    "text": rules["recommendations"]["mentor"].format(mentor=mentor.label or mentor.mentor_id),
                    "reason": {"rule": f"группа {snap.group}: сопровождение наставника"},
                }
            )
        else:
            why_not = mentor.reason if mentor else "подбор наставника не выполнялся"
            mentoring = {"mentor_id": None, "label": None, "reason": why_not, "programme_years": None}
            recs.append(
                {
                    "text": rules["recommendations"]["no_mentor"].format(reason=why_not),
                    "reason": {"rule": f"группа {snap.group}: наставник обязателен"},
                }
            )
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "months": int(g["months"])},
        "group": snap.group,
        "sections": {
            "personal_profile": {
                "full_name": snap.full_name,
                "organisation": snap.organisation,
                "municipality": snap.municipality,
            },
            "professional_profile": {
                "position": snap.position,
                "experience_years": snap.experience_years,
                "qualification_category": snap.qualification_category,
                "achievements": [],
                "courses_last_3_years": [],
            },
            "competency_profile": {
                "campaign_id": snap.campaign_id,
                "subject": snap.subject,
                "level": LEVEL_LABELS.get(snap.group),
                "group": snap.group,
                "total_percent": snap.total_percent,
                "framework_version": snap.framework_version,
                "competencies": [
                    {"code": c.code, "name": c.name, "percent": c.percent, "status": c.status}
                    for c in snap.competencies
                ],
                "deficits": [c.code for c in deficits],
                "strengths": [c.code for c in snap.strengths()],
            },
            "professional_request": {"text": "", "interests": []},
            "goals": goals,
            "recommendations": recs,
            "reflection": {"text": "", "products": []},
        },
        "mentoring": mentoring,
        "review": g["review"],
    }
