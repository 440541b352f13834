"""Self-check of a route against the 10 criteria (0/1/2 each): the machine pre-scores 1, 4, 6, 8, 9."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.routes.reference_data import Constructor, constructor, criteria, generation_rules

AUTO_CRITERIA = frozenset({1, 4, 6, 8, 9})
# Forms without dates that are still concrete: a named community, self-study material, a mentor.
UNDATED_CONCRETE = frozenset(
    {"community", "methodological_association", "self_study", "peer_resource", "internship", "mentor"}
)


def _share_score(ok: int, total: int) -> int:
    if total == 0 or ok == 0:
        return 0
    return 2 if ok == total else 1


def _tasks(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for g in content.get("sections", {}).get("goals", []) for t in g.get("tasks", [])]


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def tasks_match_deficits(content: dict[str, Any]) -> tuple[int, str]:
    sections = content.get("sections", {})
    deficits = list(sections.get("competency_profile", {}).get("deficits", []))
    covered = {g.get("competency") for g in sections.get("goals", []) if g.get("tasks")}
    if not deficits:
        return (1 if covered else 0), "в профиле нет выявленных дефицитов; задачи не привязаны к дефицитам"
    ok = sum(1 for d in deficits if d in covered)
    missing = [d for d in deficits if d not in covered]
    why = f"задачи есть для {ok} из {len(deficits)} дефицитов" + (
        f"; без задач: {', '.join(missing)}" if missing else ""
    )
    return _share_score(ok, len(deficits)), why


def practice_task_present(content: dict[str, Any]) -> tuple[int, str]:
    goals = content.get("sections", {}).get("goals", [])
    ok = sum(1 for g in goals if any(t.get("kind") == "practice_change" for t in g.get("tasks", [])))
    both = sum(1 for g in goals if {"learning", "practice_change"} <= {t.get("kind") for t in g.get("tasks", [])})
    return _share_score(
        ok, len(goals)
    ), f"задача на изменение практики есть в {ok} из {len(goals)} целей; обе задачи — в {both}"


def _concrete(form: dict[str, Any]) -> bool:
    if not form.get("resource_id"):
        return False
    return bool(form.get("starts_on")) or form.get("kind") in UNDATED_CONCRETE


def forms_are_concrete(content: dict[str, Any]) -> tuple[int, str]:
    tasks = _tasks(content)
    ok = 0
    for t in tasks:
        forms = t.get("forms", [])
        chosen = t.get("chosen_resource_id")
        if chosen:
            forms = [f for f in forms if f.get("resource_id") == chosen] or forms
        if any(_concrete(f) for f in forms):
            ok += 1
    return _share_score(ok, len(tasks)), f"конкретные мероприятия (с датами или адресом) у {ok} из {len(tasks)} задач"


def dates_realistic(content: dict[str, Any], rules: dict[str, Any] | None = None) -> tuple[int, str]:
    rules = rules or generation_rules()
    period = content.get("period", {})
    p_start, p_end = _date(period.get("start")), _date(period.get("end"))
    min_days = 7 * int(rules["min_task_weeks"])
    hours_per_week = float(rules["hours_per_week"])
    tasks = _tasks(content)
    ok = 0
    problems: list[str] = []
    for t in tasks:
        s, e = _date(t.get("starts_on")), _date(t.get("ends_on"))
        if s is None or e is None or e <= s:
            problems.append(f"{t.get('id')}: нет сроков")
            continue
        if p_start and p_end and (s < p_start or e > p_end + timedelta(days=1)):
            problems.append(f"{t.get('id')}: вне периода маршрута")
            continue
        if (e - s).days < min_days:
            problems.append(f"{t.get('id')}: меньше {rules['min_task_weeks']} недель")
            continue
        ok += 1
    # Workload: the shortest offered form of every task running at once must fit the weekly hours.
    windows: dict[tuple[str, str], float] = {}
    for t in tasks:
        hours = [float(f["hours"]) for f in t.get("forms", []) if f.get("hours")]
        if hours:
            key = (str(t.get("starts_on")), str(t.get("ends_on")))
            windows[key] = windows.get(key, 0.0) + min(hours)
    for (s_raw, e_raw), need in windows.items():
        s, e = _date(s_raw), _date(e_raw)
        if s and e and e > s and need > (e - s).days / 7 * hours_per_week:
            problems.append(f"{s_raw}..{e_raw}: {need:g} ч не помещаются в срок")
            ok = min(ok, len(tasks) - 1)
    why = f"реалистичные сроки у {ok} из {len(tasks)} задач"
    if problems:
        why += "; " + "; ".join(problems[:5])
    total = len(tasks)
    if total and ok * 2 >= total and ok < total:
        return 1, why
    return _share_score(ok, total), why


def result_forms_fit(content: dict[str, Any], cons: Constructor | None = None) -> tuple[int, str]:
    cons = cons or constructor()
    tasks = _tasks(content)
    ok = sum(1 for t in tasks if t.get("result_form") in cons.result_forms(str(t.get("kind"))))
    return _share_score(ok, len(tasks)), f"форма предъявления соответствует типу задачи у {ok} из {len(tasks)} задач"


def evaluate(content: dict[str, Any], manual: dict[int, int | None] | None = None) -> dict[str, Any]:
    """Return {criteria: [...], total}: auto criteria scored with a reason, the rest as people scored them."""
    manual = manual or {}
    auto = {
        1: tasks_match_deficits(content),
        4: practice_task_present(content),
        6: forms_are_concrete(content),
        8: dates_realistic(content),
        9: result_forms_fit(content),
    }
    out = []
    for c in criteria():
        if c.number in auto:
            score, reason = auto[c.number]
            out.append({"number": c.number, "title": c.title, "score": score, "auto": True, "reason": reason})
        else:
            out.append(
                {
                    "number": c.number,
                    "title": c.title,
                    "score": manual.get(c.number),
                    "auto": False,
                    "reason": None,
                }
            )
    scores: list[int | None] = [x["score"] for x in out]  # type: ignore[misc]
    total = sum(s for s in scores if s is not None) if all(s is not None for s in scores) else None
    return {"criteria": out, "total": total, "auto_total": sum(int(auto[n][0]) for n in auto)}
