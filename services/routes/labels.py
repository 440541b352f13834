"""Russian labels of the codes people read in a route, its print and exports (subjects, levels, statuses)."""

from __future__ import annotations

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
# The level of each support group (1 low ... 4 high), as the assessment names it.
LEVEL_LABELS = {1: "низкий", 2: "базовый", 3: "повышенный", 4: "высокий"}
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
TIER_RU = {"same_municipality": "тот же муниципалитет", "neighbouring": "соседний муниципалитет", "online": "онлайн"}


def subject_label(subject: str | None) -> str:
    return SUBJECT_LABELS.get(subject or "", subject or "по профилю деятельности")
