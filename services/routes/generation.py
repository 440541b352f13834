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
    parts = f"дефицит «{c.name}» ({c.code}): {c.percent:.0f}%"
    if "threshold" in ex:
        parts += f"; порог {ex['threshold']}"
    if weak:
        got = sum(float(i.get("points", 0)) for i in weak)
        top = sum(float(i.get("max", 0)) for i in weak)
        names = ", ".join([str(i.get("item") or i.get("code")) for i in weak[:5]])
        parts += f"; задания {names}: {got:g} из {top:g} баллов"
    return parts


def _focus(c: CompetencyResult) -> str:
    skills = [str(i.get("skill") or "") for i in (c.explanation or {}).get("items") or [] if isinstance(i, dict)]
    skills = [s for s in skills if s]
    return f" ({'; '.join(skills[:2])})" if skills else ""


PICK_RULE = (
    "формы, подходящие к типу задачи, затем по рангу подбора; смешение формального, неформального и информального"
)


def _pick_forms(
    alternatives: list[Alternative], kind: str, start: date, end: date, limit: int
) -> tuple[list[Alternative], str]:
    """Choose up to `limit` alternatives for a task window, preferring kinds that fit the task
    and a mix of formal, non-formal and informal learning."""
    if not alternatives:
        return [], PICK_RULE
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
    return chosen, PICK_RULE


@dataclass(frozen=True)
class TaskRule:
    """What a task of one kind looks like in one group: constructor row, verb, fitting result forms."""

    kind: str
    suffix: str
    verb: str
    template: str
    result_forms: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class GroupRules:
    group: dict[str, Any]
    months: int
    tasks: tuple[TaskRule, TaskRule]
    alternatives: int


def _group_rules(rules: dict[str, Any], cons: Constructor, group: int) -> GroupRules:
    g = rules["groups"][str(group)]
    tasks = []
    for kind, verb, row_index in (
        ("learning", g["learning_verb"], int(g["learning_row"])),
        ("practice_change", g["practice_verb"], int(g["practice_row"])),
    ):
        rows = cons.rows(kind)
        row = rows[min(row_index, len(rows) - 1)]
        tasks.append(
            TaskRule(
                kind,
                "L" if kind == "learning" else "P",
                verb,
                rules["task_templates"][kind],
                tuple(f for f in row.result_forms if f != "и др."),
                f"группа {group}: {kind} — «{verb}», строка {row_index + 1} конструктора задач; формы: {PICK_RULE}",
            )
        )
    return GroupRules(g, int(g["months"]), (tasks[0], tasks[1]), int(g["alternatives"]))


_GROUP_RULES: dict[int, GroupRules] = {}


def group_rules(group: int, rules: dict[str, Any] | None = None, cons: Constructor | None = None) -> GroupRules:
    """The rules of one group, worked out once for the seed data (every route of a region uses them)."""
    if rules is not None or cons is not None:
        return _group_rules(rules or generation_rules(), cons or constructor(), group)
    found = _GROUP_RULES.get(group)
    if found is None:
        found = _GROUP_RULES[group] = _group_rules(generation_rules(), constructor(), group)
    return found


def generate(
    snap: Snapshot,
    matches: dict[str, list[Alternative]],
    mentor: MentorChoice | None,
    today: date,
    rules: dict[str, Any] | None = None,
    cons: Constructor | None = None,
) -> dict[str, Any]:
    """Build the route content (sections 1-7 of the ИОМ) for one teacher."""
    gr = group_rules(snap.group, rules, cons)
    rules = rules or generation_rules()
    g = gr.group
    start = max(today, snap.assessed_on)
    end = add_months(start, gr.months)
    subject = subject_label(snap.subject)
    deficits = snap.deficits()
    strengths = snap.strengths()
    # Learning comes first, trying it in practice second; the goals run side by side, as teachers
    # work on several deficits at once (the self-check weighs the workload).
    learn_end = start + timedelta(days=int((end - start).days * float(rules["learning_share_of_period"])))
    start_iso, learn_end_iso, end_iso = start.isoformat(), learn_end.isoformat(), end.isoformat()
    windows = ((start, learn_end, start_iso, learn_end_iso), (learn_end, end, learn_end_iso, end_iso))
    problems = rules["problem_by_area"]
    goals: list[dict[str, Any]] = []
    for i, c in enumerate(deficits):
        area = c.area_key
        problem_tpl = problems.get(area, problems["default"])
        focus = _focus(c)
        found = matches.get(c.code, [])
        tasks = []
        for t, (w_start, w_end, w_start_iso, w_end_iso) in zip(gr.tasks, windows, strict=True):
            result_form = t.result_forms[i % len(t.result_forms)]
            alts, _ = _pick_forms(found, t.kind, w_start, w_end, gr.alternatives)
            tasks.append(
                {
                    "id": f"{c.code}-{t.suffix}",
                    "kind": t.kind,
                    "formulation": t.template.format(verb=t.verb, competency=c.name, focus=focus),
                    "forms": [a.as_form(f"закрывает дефицит {c.code}") for a in alts],
                    "chosen_resource_id": None,
                    "starts_on": w_start_iso,
                    "ends_on": w_end_iso,
                    "control_point": {"date": w_end_iso, "what": f"Предъявление результата: {result_form}"},
                    "result_form": result_form,
                    # The item-level explanation sits once on the goal; the task names its deficit and rule.
                    "reason": {"deficit": c.code, "rule": t.rule},
                }
            )
        goals.append(
            {
                "id": c.code,
                "competency": c.code,
                "competency_name": c.name,
                "problem": problem_tpl.format(subject=subject, competency=c.name),
                "reason": {
                    "deficit": c.code,
                    "explanation": _explain(c),
                    "rule": f"область «{area}» -> формулировка проблемы",
                },
                "tasks": tasks,
            }
        )
    recs: list[dict[str, Any]] = []
    deficit_rec = rules["recommendations"]["deficit"]
    for c in deficits:
        recs.append(
            {
                "text": deficit_rec.format(competency=c.name),
                "reason": {"deficit": c.code, "rule": "альтернативы по каждому дефициту"},
            }
        )
    strength_rec = rules["recommendations"]["strength"]
    for c in strengths:
        recs.append(
            {
                "text": strength_rec.format(competency=c.name),
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
        "period": {"start": start_iso, "end": end_iso, "months": gr.months},
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
                "strengths": [c.code for c in strengths],
            },
            "professional_request": {"text": "", "interests": []},
            "goals": goals,
            "recommendations": recs,
            "reflection": {"text": "", "products": []},
        },
        "mentoring": mentoring,
        "review": g["review"],
    }
