"""The route as a document: one view model, every text ready to print, that the HTML, DOCX and PDF share.

`build_document` turns a route (as `GET /routes/{id}` answers it), its history and the names of its school
and municipality into `RouteDocument`: sections of the ИОМ format in the order the regional regulation
lists them (personal profile; professional profile; competency profile; professional request; the
goals-and-tasks table; control points; recommendations; reflection; self-check; approvals). Codes and
enum values never reach it: kinds, statuses, categories, roles and dates are written as people write them,
and a task is named by its number in the table (1.1, 1.2, ...), not by its id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.routes.labels import KIND_RU, LEVEL_LABELS, STATUS_COMP_RU, STATUS_RU, SUBJECT_LABELS

TEMPLATES = Path(__file__).parent.parent / "templates"
FONTS = Path(__file__).parent.parent / "fonts"
TITLE = "Индивидуальный образовательный маршрут педагога"
NOT_GIVEN = "не указано"

CATEGORY_RU = {
    "none": "без категории",
    "conformity": "соответствие занимаемой должности",
    "first": "первая",
    "highest": "высшая",
}
# Kinds of the resource map and the formats of its events.
FORM_KIND_RU = {
    "course": "Курс повышения квалификации",
    "project": "Проект центра",
    "event": "Мероприятие",
    "webinar": "Вебинар",
    "seminar": "Семинар",
    "practicum": "Практикум",
    "conference": "Конференция",
    "round_table": "Круглый стол",
    "training": "Тренинг",
    "internship": "Стажировочная площадка",
    "community": "Профессиональное сообщество",
    "methodological_association": "Методическое объединение",
    "self_study": "Самообразование",
    "peer_resource": "Ресурс коллеги",
}
LEARNING_TYPE_RU = {"formal": "формальное", "non_formal": "неформальное", "informal": "информальное"}
MODE_RU = {"online": "онлайн", "in_person": "очно", "mixed": "очно и онлайн"}  # the resource map's modes
# Who takes each step of the regulation, as the document names them.
ROLE_RU = {
    "teacher": "педагог",
    "school_admin": "заместитель руководителя ОО",
    "municipal_methodologist": "специалист ММС",
    "regional_specialist": "специалист ЦНППМ",
    "admin": "администратор платформы",
    "service": "платформа (автоматически)",
}
# The steps of the regulation the approvals sheet lists (history actions), in Russian.
STEP_RU = {
    "generated": "Маршрут сформирован по результатам диагностики",
    "regenerated": "Маршрут обновлён по новым результатам диагностики",
    "recommend": "Внесены рекомендации ЦНППМ",
    "send_to_municipality": "Направлен в муниципальную методическую службу",
    "agree_with_school": "Согласован с образовательной организацией",
    "approve": "Утверждён образовательной организацией, назначен тьютор",
    "start": "Начата реализация",
    "complete": "Завершён педагогом",
    "audited": "Проведён методический аудит",
    "archive": "Передан в архив",
    "return_for_correction": "Возвращён на доработку",
}


def ru_date(value: Any) -> str:
    """A date (ISO text, date or datetime) as ДД.ММ.ГГГГ; nothing for nothing."""
    if isinstance(value, datetime):
        value = value.date()
    s = value.isoformat() if isinstance(value, date) else str(value or "")
    return f"{s[8:10]}.{s[5:7]}.{s[0:4]}" if len(s) >= 10 and s[4] == "-" else s


def ru_span(start: Any, end: Any) -> str:
    a, b = ru_date(start), ru_date(end)
    if a and b:
        return a if a == b else f"{a} – {b}"
    return a or b


def plural(n: int, one: str, few: str, many: str) -> str:
    """«1 год», «3 года», «11 лет»."""
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = few
    else:
        word = many
    return f"{n} {word}"


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if len(text) > 1 and text[0].isupper() and text[1].islower() else text


@dataclass(frozen=True)
class Line:
    """A labelled line of a profile: «Образовательная организация: МБОУ СОШ № 1»."""

    label: str
    value: str

    @property
    def text(self) -> str:
        end = "" if self.value.endswith((".", "!", "?")) else "."
        return f"{self.label}: {self.value}{end}"


@dataclass(frozen=True)
class TaskRow:
    number: str
    kind: str
    formulation: str
    forms: list[str]
    dates: str
    result_form: str
    done: bool


@dataclass(frozen=True)
class GoalBlock:
    number: int
    problem: str
    tasks: list[TaskRow]


@dataclass(frozen=True)
class ControlRow:
    date: str
    task: str
    what: str
    checked_by: str


@dataclass(frozen=True)
class CompetencyRow:
    name: str
    percent: str
    status: str


@dataclass(frozen=True)
class CriterionRow:
    number: int
    title: str
    score: str
    reason: str


@dataclass(frozen=True)
class ApprovalRow:
    step: str
    who: str
    when: str
    comment: str


@dataclass(frozen=True)
class RouteDocument:
    """Everything the printed route says, in order (see the module's docstring)."""

    title: str
    teacher: str
    summary: list[Line]
    personal: list[Line]
    professional: list[Line]
    achievements: list[str]
    courses: list[str]
    competency: list[Line]
    competencies: list[CompetencyRow]
    request: str
    interests: str
    goals: list[GoalBlock]
    control_points: list[ControlRow]
    mentoring: str
    recommendations: list[str]
    reflection: str
    products: list[str]
    self_check: list[CriterionRow]
    self_check_total: str
    approvals: list[ApprovalRow]
    tasks: list[TaskRow] = field(default_factory=list)  # every task of every goal, in table order


def _names_itself(title: str, kind: str) -> bool:
    """Whether a title already says what it is: a name in quotes («Сетевое сообщество «…»»), a title starting
    with the kind's word («Курс ПК …» for a course) or a title with a label («Семинар-практикум: …»)."""
    first = title.split(maxsplit=1)[0].lower() if title else ""
    return "«" in title or ":" in title or first == kind.split(maxsplit=1)[0].lower()


def _form(f: Mapping[str, Any], chosen: bool) -> str:
    title = str(f.get("title") or "").strip()
    kind = FORM_KIND_RU.get(str(f.get("kind") or ""))
    if kind and title and not _names_itself(title, kind):
        text = f"{kind} «{title}»"
    else:
        text = title or kind or "форма работы"
    facts = [str(f["provider"])] if f.get("provider") else []
    if f.get("hours"):
        facts.append(f"{f['hours']} ч")
    if f.get("mode") in MODE_RU:
        facts.append(MODE_RU[str(f["mode"])])
    if f.get("learning_type") in LEARNING_TYPE_RU:
        facts.append(f"{LEARNING_TYPE_RU[str(f['learning_type'])]} обучение")
    when = ru_span(f.get("starts_on"), f.get("ends_on"))
    if facts:
        text += f" ({', '.join(facts)})"
    if when:
        text += f", {when}"
    return text + (" — выбрано педагогом" if chosen else "")


def _task_row(number: str, t: Mapping[str, Any]) -> TaskRow:
    chosen = t.get("chosen_resource_id")
    forms = [_form(f, bool(chosen) and f.get("resource_id") == chosen) for f in t.get("forms") or []]
    return TaskRow(
        number=number,
        kind=KIND_RU.get(str(t.get("kind") or ""), "задача"),
        formulation=str(t.get("formulation") or ""),
        forms=forms or ["формы работы подбираются по ресурсной карте"],
        dates=ru_span(t.get("starts_on"), t.get("ends_on")),
        result_form=str(t.get("result_form") or ""),
        done=bool(t.get("done")),
    )


def _goals(sections: Mapping[str, Any]) -> tuple[list[GoalBlock], dict[str, str]]:
    goals: list[GoalBlock] = []
    numbers: dict[str, str] = {}
    for gi, g in enumerate(sections.get("goals") or [], 1):
        rows = []
        for ti, t in enumerate(g.get("tasks") or [], 1):
            numbers[str(t.get("id"))] = f"{gi}.{ti}"
            rows.append(_task_row(f"{gi}.{ti}", t))
        goals.append(GoalBlock(gi, str(g.get("problem") or ""), rows))
    return goals, numbers


def _control_points(content: Mapping[str, Any], numbers: Mapping[str, str]) -> list[ControlRow]:
    points = content.get("control_points")
    if points is None:  # routes stored before control points were listed: one per task, at its end
        points = [
            {"date": (t.get("control_point") or {}).get("date") or t.get("ends_on"), "task_id": t.get("id"), **cp}
            for g in (content.get("sections") or {}).get("goals") or []
            for t in g.get("tasks") or []
            for cp in [{"what": (t.get("control_point") or {}).get("what") or ""}]
        ]
    return [
        ControlRow(
            date=ru_date(p.get("date")),
            task=f"задача {numbers[str(p.get('task_id'))]}" if str(p.get("task_id")) in numbers else "",
            what=str(p.get("what") or ""),
            checked_by=str(p.get("checked_by") or "тьютор"),
        )
        for p in points
    ]


def _listed(items: Sequence[Any]) -> list[str]:
    out = []
    for x in items or []:
        if isinstance(x, Mapping):
            text = str(x.get("title") or x.get("name") or x.get("text") or "").strip()
            if x.get("url"):
                text = f"{text} ({x['url']})" if text else str(x["url"])
        else:
            text = str(x).strip()
        if text:
            out.append(text)
    return out


def _competency(cp: Mapping[str, Any], group: int) -> tuple[list[Line], list[CompetencyRow]]:
    lines = []
    if cp.get("subject"):
        lines.append(Line("Предмет", SUBJECT_LABELS.get(str(cp["subject"]), str(cp["subject"]))))
    level = cp.get("level") or LEVEL_LABELS.get(group)
    if level:
        lines.append(Line("Уровень по результатам диагностики", f"{level}"))
    if cp.get("total_percent") is not None:
        lines.append(Line("Общий результат", f"{float(cp['total_percent']):.0f}%"))
    rows = [
        CompetencyRow(
            name=str(c.get("name") or ""),
            percent=f"{float(c['percent']):.0f}%" if c.get("percent") is not None else "",
            status=STATUS_COMP_RU.get(str(c.get("status") or ""), ""),
        )
        for c in cp.get("competencies") or []
    ]
    return lines, rows


def _self_check(sc: Mapping[str, Any]) -> tuple[list[CriterionRow], str]:
    rows = [
        CriterionRow(
            number=int(x.get("number") or 0),
            title=str(x.get("title") or ""),
            score="не оценён" if x.get("score") is None else str(x["score"]),
            reason=str(x.get("reason") or ""),
        )
        for x in sc.get("criteria") or []
    ]
    total = sc.get("total")
    if total is not None:
        return rows, f"Итого: {total} из 20 баллов."
    auto_total, auto_max = sc.get("auto_total"), sc.get("auto_max")
    machine = f" По критериям, оценённым автоматически: {auto_total} из {auto_max}." if auto_max else ""
    return rows, "Итог будет подсчитан, когда все критерии будут оценены." + machine


def _approvals(history: Sequence[Mapping[str, Any]], tutor: Mapping[str, Any] | None) -> list[ApprovalRow]:
    rows = []
    for e in history:
        action = str(e.get("action") or "")
        if action not in STEP_RU:
            continue  # task edits and self-check scores are not approvals
        comment = str(e.get("comment") or "") if action in ("return_for_correction", "recommend") else ""
        if action == "approve" and tutor and tutor.get("name"):
            position = f", {tutor['position']}" if tutor.get("position") else ""
            comment = f"тьютор: {tutor['name']}{position}"
        rows.append(
            ApprovalRow(
                step=STEP_RU[action],
                who=ROLE_RU.get(str(e.get("actor_role") or ""), ""),
                when=ru_date(e.get("at")),
                comment=comment,
            )
        )
    return rows


def _mentoring(m: Mapping[str, Any] | None) -> str:
    if not m:
        return ""
    if m.get("label"):
        years = m.get("programme_years")
        programme = ""
        if years:
            span = f"{years[0]}–{years[-1]}" if len(years) > 1 and years[0] != years[-1] else str(years[0])
            programme = f"; программа наставничества на {span} " + ("год" if span == "1" else "года")
        return f"Наставник: {m['label']}{programme}."
    return f"Наставник не назначен: {_lower_first(str(m.get('reason') or 'подбор не выполнялся'))}."


def build_document(
    route: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] = (),
    *,
    municipality_name: str | None = None,
    organisation_name: str | None = None,
) -> RouteDocument:
    """The printed route (see the module's docstring): `route` as the API answers it, its history for the
    approvals, and the names of its school and municipality from the directory."""
    c: Mapping[str, Any] = route.get("content") or {}
    sec: Mapping[str, Any] = c.get("sections") or {}
    prof = sec.get("personal_profile") or {}
    pp = sec.get("professional_profile") or {}
    group = int(route.get("group") or c.get("group") or 0)
    period = c.get("period") or {}
    months = period.get("months")
    span = ru_span(period.get("start") or route.get("period_start"), period.get("end") or route.get("period_end"))
    teacher = str(prof.get("full_name") or route.get("teacher_name") or "") or "педагог"
    tutor = route.get("tutor") or None
    summary = [
        Line("Период реализации", span + (f" ({plural(int(months), 'месяц', 'месяца', 'месяцев')})" if months else "")),
        Line("Статус", STATUS_RU.get(str(route.get("status") or ""), "")),
        Line("Группа сопровождения", f"{group} ({LEVEL_LABELS.get(group, '')} уровень)" if group else NOT_GIVEN),
    ]
    if tutor and tutor.get("name"):
        summary.append(Line("Тьютор", str(tutor["name"])))
    experience = pp.get("experience_years")
    category = pp.get("qualification_category")
    goals, numbers = _goals(sec)
    competency, competencies = _competency(sec.get("competency_profile") or {}, group)
    request = sec.get("professional_request") or {}
    reflection = sec.get("reflection") or {}
    self_check, total = _self_check(route.get("self_check") or {})
    return RouteDocument(
        title=TITLE,
        teacher=teacher,
        summary=summary,
        personal=[
            Line("Фамилия, имя, отчество", teacher),
            Line("Образовательная организация", organisation_name or NOT_GIVEN),
            Line("Муниципалитет", municipality_name or NOT_GIVEN),
        ],
        professional=[
            Line("Должность", str(pp.get("position") or "") or NOT_GIVEN),
            Line(
                "Педагогический стаж",
                plural(int(experience), "год", "года", "лет") if experience is not None else NOT_GIVEN,
            ),
            Line("Квалификационная категория", CATEGORY_RU.get(str(category), str(category or "")) or NOT_GIVEN),
        ],
        achievements=_listed(pp.get("achievements") or []),
        courses=_listed(pp.get("courses_last_3_years") or []),
        competency=competency,
        competencies=competencies,
        request=str(request.get("text") or "").strip(),
        interests=", ".join(str(i) for i in request.get("interests") or []),
        goals=goals,
        control_points=_control_points(c, numbers),
        mentoring=_mentoring(c.get("mentoring")),
        recommendations=[str(r.get("text")) for r in sec.get("recommendations") or [] if r.get("text")],
        reflection=str(reflection.get("text") or "").strip(),
        products=_listed(reflection.get("products") or []),
        self_check=self_check,
        self_check_total=total,
        approvals=_approvals(history, tutor),
        tasks=[t for g in goals for t in g.tasks],
    )
