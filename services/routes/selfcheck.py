"""Self-check of a route against the 10 criteria (0/1/2 each).

The machine scores only the criteria the route's data decides (AUTO_CRITERIA):
1 every deficit has tasks; 4 every goal has a task of changing practice; 6 every task offers a concrete
form of work (a resource of the map with dates or a place), so a deficit the map has nothing for loses
points; 8 every task has dates inside the route, long enough, and the hours of its forms fit the weeks
(data/generation_rules.json: hours_per_week, min_task_weeks); 9 every task has a result form the task
constructor offers for its kind. Each says why, naming the tasks (by their deficit's name) that lose
points. The others (2, 3, 5, 7, 10) need a person's judgement: until a person scores them they are
marked `scored: false` with no score, and the total stays open.

Each criterion: {number, title, score (0..2 or null), auto, scored, reason}; the result: {criteria,
total (null until every criterion is scored), auto_total, auto_max}."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from kit.russian import plural
from services.routes.labels import KIND_RU
from services.routes.reference_data import Constructor, constructor, criteria, generation_rules

AUTO_CRITERIA = frozenset({1, 4, 6, 8, 9})
# Forms without dates that are still concrete: a named community, self-study material, a mentor.
UNDATED_CONCRETE = frozenset(
    {"community", "methodological_association", "self_study", "peer_resource", "internship", "mentor"}
)
FOR_A_PERSON = "оценивает методист: данные маршрута этого не решают"
SCORED_BY_A_PERSON = "оценка методиста"
NO_TASKS = "в маршруте нет задач"
MAX_LISTED = 5  # problems named in a reason; the rest are counted

Scored = tuple[int | None, str]


def _share_score(ok: int, total: int) -> int:
    if total == 0 or ok == 0:
        return 0
    return 2 if ok == total else 1


def _goals(content: dict[str, Any]) -> list[dict[str, Any]]:
    return list(content.get("sections", {}).get("goals", []))


def _tasks(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for g in _goals(content) for t in g.get("tasks", [])]


def _names(content: dict[str, Any]) -> dict[str, str]:
    """Competency code -> name, from the route's competency profile (read only when a name is needed:
    the monthly export fetches the deficits and the goals, not the whole profile)."""
    profile = content.get("sections", {}).get("competency_profile", {})
    return {str(c.get("code")): str(c.get("name") or c.get("code")) for c in profile.get("competencies", [])}


def _task_label(task: dict[str, Any], goal: dict[str, Any]) -> str:
    kind = KIND_RU.get(str(task.get("kind")), "задача")
    return f"{kind} по направлению «{goal.get('competency_name') or goal.get('competency')}»"


def _labelled(content: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return [(t, _task_label(t, g)) for g in _goals(content) for t in g.get("tasks", [])]


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _out_of(ok: int, total: int, one: str, many: str) -> str:
    """«1 из 1 цели», «2 из 3 целей»: the noun after «из N» agrees with N (genitive singular or plural)."""
    return f"{ok} из {total} {plural(total, one, many, many)}"


def _ru_day(value: str) -> str:
    """An ISO date as people write it (ДД.ММ.ГГГГ)."""
    day = _date(value)
    return f"{day:%d.%m.%Y}" if day else value


def _listing(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return shown + (f" и еще {more}" if more > 0 else "")


def tasks_match_deficits(content: dict[str, Any]) -> Scored:
    sections = content.get("sections", {})
    deficits = list(sections.get("competency_profile", {}).get("deficits", []))
    if not deficits:
        return None, "в профиле нет выявленных дефицитов: соответствие задач оценивает методист"
    covered = {g.get("competency") for g in _goals(content) if g.get("tasks")}
    ok = sum(1 for d in deficits if d in covered)
    missing = [d for d in deficits if d not in covered]
    if missing:
        names = _names(content)
        missing = [f"«{names.get(d, d)}»" for d in missing]
    why = f"задачи есть для {_out_of(ok, len(deficits), 'дефицита', 'дефицитов')}"
    if missing:
        why += "; без задач: " + _listing(missing)
    return _share_score(ok, len(deficits)), why


def practice_task_present(content: dict[str, Any]) -> Scored:
    goals = _goals(content)
    ok = sum(1 for g in goals if _has_practice(g))
    missing = [f"«{g.get('competency_name') or g.get('competency')}»" for g in goals if not _has_practice(g)]
    if not goals:
        return 0, "в маршруте нет целей"
    why = f"задача на изменение деятельности есть в {_out_of(ok, len(goals), 'цели', 'целей')}"
    if missing:
        why += "; нет в целях по направлениям " + _listing(missing)
    return _share_score(ok, len(goals)), why


def _has_practice(goal: dict[str, Any]) -> bool:
    return any(t.get("kind") == "practice_change" for t in goal.get("tasks", []))


def _concrete(form: dict[str, Any]) -> bool:
    if not form.get("resource_id"):
        return False
    return bool(form.get("starts_on")) or form.get("kind") in UNDATED_CONCRETE


def forms_are_concrete(content: dict[str, Any]) -> Scored:
    labelled = _labelled(content)
    problems: list[str] = []
    for t, label in labelled:
        forms = t.get("forms") or []
        chosen = t.get("chosen_resource_id")
        if chosen:
            forms = [f for f in forms if f.get("resource_id") == chosen] or forms
        if not forms:
            problems.append(f"{label}: ресурсная карта не предлагает ни одной формы работы")
        elif not any(_concrete(f) for f in forms):
            problems.append(f"{label}: формы названы направлением, без мероприятия, даты или места")
    if not labelled:
        return 0, NO_TASKS
    ok = len(labelled) - len(problems)
    why = f"конкретные мероприятия у {_out_of(ok, len(labelled), 'задачи', 'задач')}"
    if problems:
        why += "; " + _listing(problems)
    return _share_score(ok, len(labelled)), why


def _window_problem(t: dict[str, Any], period: tuple[date | None, date | None], rules: dict[str, Any]) -> str | None:
    s, e = _date(t.get("starts_on")), _date(t.get("ends_on"))
    p_start, p_end = period
    if s is None or e is None or e <= s:
        return "нет сроков"
    if p_start and p_end and (s < p_start or e > p_end + timedelta(days=1)):
        return "сроки выходят за период маршрута"
    if (e - s).days < 7 * int(rules["min_task_weeks"]):
        return f"меньше {rules['min_task_weeks']} недель"
    return None


def _hours(t: dict[str, Any]) -> float | None:
    """Hours the task needs: of the chosen form, else of the shortest form offered."""
    forms = t.get("forms") or []
    chosen = t.get("chosen_resource_id")
    if chosen:
        forms = [f for f in forms if f.get("resource_id") == chosen] or forms
    hours = [float(f["hours"]) for f in forms if f.get("hours")]
    return min(hours) if hours else None


def dates_realistic(content: dict[str, Any], rules: dict[str, Any] | None = None) -> Scored:
    rules = rules or generation_rules()
    period = content.get("period", {})
    bounds = (_date(period.get("start")), _date(period.get("end")))
    labelled = _labelled(content)
    bad: dict[int, str] = {}
    for i, (t, label) in enumerate(labelled):
        problem = _window_problem(t, bounds, rules)
        if problem:
            bad[i] = f"{label}: {problem}"
    # Workload: the hours of every task running in the same weeks must fit the weekly hours.
    windows: dict[tuple[str, str], list[int]] = {}
    for i, (t, _label) in enumerate(labelled):
        if i not in bad and _hours(t) is not None:
            windows.setdefault((str(t.get("starts_on")), str(t.get("ends_on"))), []).append(i)
    for (s_raw, e_raw), members in windows.items():
        s, e = _date(s_raw), _date(e_raw)
        need = sum(_hours(labelled[i][0]) or 0.0 for i in members)
        allowed = ((e - s).days / 7 * float(rules["hours_per_week"])) if s and e else 0.0
        if need > allowed:
            for i in members:
                bad[i] = (
                    f"{labelled[i][1]}: {need:g} ч за {_ru_day(s_raw)} – {_ru_day(e_raw)} не помещаются "
                    f"в {allowed:.0f} ч ({rules['hours_per_week']} ч в неделю)"
                )
    total = len(labelled)
    if not total:
        return 0, NO_TASKS
    ok = total - len(bad)
    why = f"реалистичные сроки у {_out_of(ok, total, 'задачи', 'задач')}"
    if bad:
        why += "; " + _listing([bad[i] for i in sorted(bad)])
    if total and ok * 2 >= total and ok < total:
        return 1, why
    return _share_score(ok, total), why


def result_forms_fit(content: dict[str, Any], cons: Constructor | None = None) -> Scored:
    cons = cons or constructor()
    labelled = _labelled(content)
    problems: list[str] = []
    for t, label in labelled:
        form = str(t.get("result_form") or "").strip()
        if not form:
            problems.append(f"{label}: нет формы предъявления результата")
        elif not cons.result_form_fits(str(t.get("kind")), form):
            problems.append(f"{label}: форма «{form}» не из конструктора для задач этого типа")
    if not labelled:
        return 0, NO_TASKS
    ok = len(labelled) - len(problems)
    why = f"форма предъявления соответствует типу задачи у {_out_of(ok, len(labelled), 'задачи', 'задач')}"
    if problems:
        why += "; " + _listing(problems)
    return _share_score(ok, len(labelled)), why


def evaluate(content: dict[str, Any], manual: dict[int, int | None] | None = None) -> dict[str, Any]:
    """Score the route: the machine's criteria from its data, the rest as people scored them (or not yet)."""
    manual = manual or {}
    auto: dict[int, Scored] = {
        1: tasks_match_deficits(content),
        4: practice_task_present(content),
        6: forms_are_concrete(content),
        8: dates_realistic(content),
        9: result_forms_fit(content),
    }
    out: list[dict[str, Any]] = []
    for c in criteria():
        if c.number in auto:
            score, reason = auto[c.number]
            out.append(
                {
                    "number": c.number,
                    "title": c.title,
                    "score": score,
                    "auto": True,
                    "scored": score is not None,
                    "reason": reason,
                }
            )
        else:
            given = manual.get(c.number)
            out.append(
                {
                    "number": c.number,
                    "title": c.title,
                    "score": given,
                    "auto": False,
                    "scored": given is not None,
                    "reason": SCORED_BY_A_PERSON if given is not None else FOR_A_PERSON,
                }
            )
    scores = [x["score"] for x in out]
    total = sum(scores) if all(s is not None for s in scores) else None
    machine = [s for s, _why in auto.values() if s is not None]
    return {"criteria": out, "total": total, "auto_total": sum(machine), "auto_max": 2 * len(machine)}
