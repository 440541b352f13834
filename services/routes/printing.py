"""A printable route (ИОМ) in Russian, as self-contained HTML (print to PDF from any browser)."""

from __future__ import annotations

from html import escape
from typing import Any

from services.routes.generation import LEVEL_LABELS, subject_label

STATUS_RU = {
    "draft": "черновик",
    "recommended": "рекомендации ЦНППМ внесены",
    "sent_to_municipality": "направлен в ММС",
    "agreed_with_school": "согласован с ОО",
    "approved": "утверждён ОО, тьютор назначен",
    "in_progress": "реализуется",
    "completed": "завершён педагогом",
    "audited": "проведён аудит",
    "archived": "в архиве",
}
KIND_RU = {"learning": "задача обучения", "practice_change": "задача на изменение деятельности"}
STATUS_COMP_RU = {"deficit": "дефицит", "growth": "точка роста", "strength": "точка опоры"}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _date(value: Any) -> str:
    s = str(value or "")
    return f"{s[8:10]}.{s[5:7]}.{s[0:4]}" if len(s) >= 10 else _e(s)


def render_html(route: dict[str, Any]) -> str:
    c = route["content"]
    sec = c.get("sections", {})
    prof = sec.get("personal_profile", {})
    pp = sec.get("professional_profile", {})
    cp = sec.get("competency_profile", {})
    req = sec.get("professional_request", {})
    refl = sec.get("reflection", {})
    rows = []
    for g in sec.get("goals", []):
        tasks = g.get("tasks", [])
        for i, t in enumerate(tasks):
            forms = (
                "".join(
                    f"<li>{_e(f.get('title'))}"
                    + (f" ({_date(f.get('starts_on'))}–{_date(f.get('ends_on'))})" if f.get("starts_on") else "")
                    + (
                        " — <b>выбрано</b>"
                        if f.get("resource_id") and f.get("resource_id") == t.get("chosen_resource_id")
                        else ""
                    )
                    + "</li>"
                    for f in t.get("forms", [])
                )
                or "<li>формы будут подобраны</li>"
            )
            first = f'<td rowspan="{len(tasks)}">{_e(g.get("problem"))}</td>' if i == 0 else ""
            rows.append(
                f"<tr>{first}<td><i>{_e(KIND_RU.get(t.get('kind'), t.get('kind')))}</i>: "
                f"{_e(t.get('formulation'))}</td>"
                f"<td><ul>{forms}</ul></td><td>{_date(t.get('starts_on'))}–{_date(t.get('ends_on'))}</td>"
                f"<td>{_e(t.get('result_form'))}</td></tr>"
            )
    comps = "".join(
        f"<tr><td>{_e(x.get('code'))}</td><td>{_e(x.get('name'))}</td><td>{_e(x.get('percent'))}%</td>"
        f"<td>{_e(STATUS_COMP_RU.get(x.get('status'), x.get('status')))}</td></tr>"
        for x in cp.get("competencies", [])
    )
    recs = "".join(f"<li>{_e(r.get('text'))}</li>" for r in sec.get("recommendations", []))
    checks = "".join(
        f"<tr><td>{x['number']}</td><td>{_e(x['title'])}</td><td>{'' if x['score'] is None else x['score']}</td>"
        f"<td>{_e(x.get('reason'))}</td></tr>"
        for x in route["self_check"]["criteria"]
    )
    mentoring = c.get("mentoring") or {}
    mentor = ""
    if mentoring:
        mentor = f"<p><b>Наставник:</b> {_e(mentoring.get('label') or mentoring.get('mentor_id') or 'не назначен')}"
        mentor += f" ({_e(mentoring.get('reason'))})</p>"
    tutor = (route.get("tutor") or {}).get("name")
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<title>Индивидуальный образовательный маршрут — {_e(prof.get("full_name"))}</title>
<style>
body {{ font-family: 'PT Serif', 'Times New Roman', serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
th, td {{ border: 1px solid #444; padding: 4px 6px; vertical-align: top; }}
th {{ background: #eee; }} h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.1em; margin-top: 1.5em; }}
@media print {{ body {{ margin: 1cm; }} }}
</style></head><body>
<h1>Индивидуальный образовательный маршрут педагога</h1>
<p>Период: {_date(c.get("period", {}).get("start"))} – {_date(c.get("period", {}).get("end"))}.
Статус: {_e(STATUS_RU.get(route["status"], route["status"]))}. Группа сопровождения: {_e(route["group"])}
({_e(LEVEL_LABELS.get(route["group"]))} уровень).{f" Тьютор: {_e(tutor)}." if tutor else ""}</p>
<h2>1. Личный профиль</h2>
<p>{_e(prof.get("full_name"))}, {_e(pp.get("position"))}; ОО: {_e(prof.get("organisation"))};
муниципалитет: {_e(prof.get("municipality"))}.</p>
<h2>2. Профессиональный профиль</h2>
<p>Стаж: {_e(pp.get("experience_years"))} лет; квалификационная категория: {_e(pp.get("qualification_category"))}.</p>
<h2>3. Профиль компетенций</h2>
<p>Предмет: {_e(subject_label(cp.get("subject")))}; уровень: {_e(cp.get("level"))}.</p>
<table><tr><th>Код</th><th>Компетенция</th><th>Результат</th><th>Оценка</th></tr>{comps}</table>
<h2>4. Профессиональный запрос</h2><p>{_e(req.get("text")) or "—"}</p>
<h2>5. Цели и задачи</h2>
<table><tr><th>Проблема / цель</th><th>Образовательные задачи</th><th>Формы работы</th><th>Сроки</th>
<th>Форма предъявления результата</th></tr>{"".join(rows)}</table>
{mentor}
<h2>6. Рекомендации</h2><ul>{recs}</ul>
<h2>7. Рефлексия</h2><p>{_e(refl.get("text")) or "—"}</p>
<h2>Самопроверка (формат анализа ИОМ)</h2>
<table><tr><th>№</th><th>Критерий</th><th>Балл</th><th>Обоснование</th></tr>{checks}</table>
<p>Итого: {_e(route["self_check"]["total"]) if route["self_check"]["total"] is not None else "не все критерии оценены"}
 из 20.</p>
</body></html>"""
