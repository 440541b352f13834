"""Route (ИОМ) generation as pure functions: deficits + resource alternatives -> route content.

Every generated element carries a `reason` saying which deficit, which item results and which
rule produced it, so that a methodologist can see why it is there. Everything a person reads is
Russian built from names (of the deficit, the area, the group), never from codes: task formulations
from one row of the task constructor (support_groups), reasons of forms in one place (reasons),
control points by the group's rules (control_points).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kit.russian import plural
from services.routes.competency_areas import area_of
from services.routes.control_points import control_points, presented
from services.routes.form_choice import pick_forms
from services.routes.labels import LEVEL_LABELS, SUBJECT_LABELS, subject_label
from services.routes.periods import period_key, route_period
from services.routes.reasons import FormFacts, form_reasons
from services.routes.reference_data import generation_rules
from services.routes.support_groups import group_rules

# Imported from here by callers that predate services.routes.periods and services.routes.labels.
__all__ = [
    "LEVEL_LABELS",
    "Alternative",
    "CompetencyResult",
    "MentorChoice",
    "Snapshot",
    "generate",
    "period_key",
    "subject_label",
]


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
        return area_of(self.code, self.area)


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
    reason: str = ""  # the resource map's own explanation (its points); not shown in the route
    score: float = 0.0
    municipalities: tuple[str, ...] = ()
    free: int | None = None  # seats left; None: no limit
    level_fit: bool | None = None  # recommended for the teacher's group (True), for any level (False), unknown

    @property
    def facts(self) -> FormFacts:
        return FormFacts(self.mode, self.municipalities, self.free, self.level_fit)

    def as_form(self, why: list[str]) -> dict[str, Any]:
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
            "free": self.free,
            "reason": "; ".join(why),
            "reasons": why,
        }


@dataclass(frozen=True)
class MentorChoice:
    mentor_id: str | None
    label: str | None = None
    reason: str = ""


def _number(value: float) -> str:
    """«3», «2,5»: a decimal comma, as in Russian."""
    return f"{value:g}".replace(".", ",")


def _percent(value: Any) -> str:
    """A threshold as people write it: «50%», «62,5%» (the client sends «50.0%»)."""
    try:
        number = float(str(value).strip().rstrip("%").strip())
    except ValueError:
        return str(value)
    return _number(number) + "%"


def _explain(c: CompetencyResult) -> str:
    ex = c.explanation or {}
    items = ex.get("items") or []
    weak = [i for i in items if isinstance(i, dict)]
    parts = f"дефицит «{c.name}»: {c.percent:.0f}%"
    if ex.get("threshold"):
        parts += f" при пороге {_percent(ex['threshold'])}"
    if weak:
        got = sum(float(i.get("points", 0)) for i in weak)
        top = float(sum(float(i.get("max", 0)) for i in weak))
        points = plural(int(top), "балла", "баллов", "баллов") if top.is_integer() else "балла"
        parts += f"; в заданиях с ошибками набрано {_number(got)} из {_number(top)} {points}"
    return parts


def _focus(c: CompetencyResult) -> str:
    skills = [str(i.get("skill") or "") for i in (c.explanation or {}).get("items") or [] if isinstance(i, dict)]
    skills = [s for s in skills if s]
    return f" ({'; '.join(skills[:2])})" if skills else ""


def _of_subject(subject: str | None) -> str:
    """« по предмету «Математика»» for the problem statement (« начальных классов» for primary school: data,
    generation_rules.json of_subject), or nothing when the result names no subject."""
    if not subject:
        return ""
    phrases = generation_rules()["of_subject"]
    return str(phrases.get(subject, phrases["default"])).format(subject=SUBJECT_LABELS.get(subject, subject))


def generate(
    snap: Snapshot,
    matches: dict[str, list[Alternative]],
    mentor: MentorChoice | None,
    today: date,
    municipality_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the route content (sections 1-7 of the ИОМ) for one teacher."""
    gr = group_rules(snap.group)
    rules = generation_rules()
    start, end = route_period(snap.group, snap.assessed_on, today)
    of_subject = _of_subject(snap.subject)
    area_labels = rules["area_labels"]
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
            result_form = t.result_form(i, c.name)
            alts = pick_forms(found, t.kind, w_start, w_end, gr.alternatives)
            tasks.append(
                {
                    "id": f"{c.code}-{t.suffix}",
                    "kind": t.kind,
                    "formulation": t.formulation(c.name, focus),
                    "forms": [
                        a.as_form(form_reasons(c.name, a.facts, snap.group, snap.municipality, municipality_names))
                        for a in alts
                    ],
                    "chosen_resource_id": None,
                    "starts_on": w_start_iso,
                    "ends_on": w_end_iso,
                    "control_point": {"date": w_end_iso, "what": presented(result_form)},
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
                "problem": problem_tpl.format(of_subject=of_subject, competency=c.name),
                "reason": {
                    "deficit": c.code,
                    "explanation": _explain(c),
                    "rule": f"типовая формулировка проблемы для области «{area_labels[area]}»",
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
                "reason": {"deficit": c.code, "rule": "несколько форм работы на выбор по каждому дефициту"},
            }
        )
    strength_rec = rules["recommendations"]["strength"]
    for c in strengths:
        recs.append(
            {
                "text": strength_rec.format(competency=c.name),
                "reason": {"strength": c.code, "rule": "точка опоры: опыт для горизонтального обучения коллег"},
            }
        )
    mentoring: dict[str, Any] | None = None
    if gr.mentor_required or (mentor is not None and mentor.mentor_id):
        if mentor is not None and mentor.mentor_id:
            mentoring = {
                "mentor_id": mentor.mentor_id,
                "label": mentor.label,
                "reason": mentor.reason or f"группе поддержки {snap.group} наставник назначается по регламенту",
                "programme_years": list(years) if (years := gr.mentoring_programme_years) is not None else None,
            }
            recs.append(
                {
                    "text": rules["recommendations"]["mentor"].format(mentor=mentor.label or mentor.mentor_id),
                    "reason": {"rule": f"группа поддержки {snap.group}: сопровождение наставника"},
                }
            )
        else:
            why_not = mentor.reason if mentor else "подбор наставника не выполнялся"
            mentoring = {"mentor_id": None, "label": None, "reason": why_not, "programme_years": None}
            recs.append(
                {
                    "text": rules["recommendations"]["no_mentor"].format(reason=why_not),
                    "reason": {"rule": f"группе поддержки {snap.group} наставник назначается по регламенту"},
                }
            )
    mentor_label = mentor.label if mentor is not None and mentor.mentor_id else None
    all_tasks = [t for g in goals for t in g["tasks"]]
    return {
        "period": {"start": start_iso, "end": end_iso, "months": gr.months},
        "control_points": control_points(all_tasks, gr, start, end, mentor_label),
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
        "review": gr.review,
    }
