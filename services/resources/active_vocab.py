"""The methodological active's statuses and bases of membership, with their Russian labels and the words an
import may use for them (all from `data/active.json`)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

DATA: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "active.json").read_text(encoding="utf-8"))


class ActiveStatus(enum.StrEnum):
    candidate = "candidate"  # педагог-кандидат
    member = "member"  # член регионального методического актива
    left = "left"  # выбыл


class BasisKind(enum.StrEnum):
    omk = "omk"  # результат ОМК (кампания, уровень)
    association_head = "association_head"  # руководитель МО или методического совета
    exam_expert = "exam_expert"  # ведущий или старший эксперт предметной комиссии ЕГЭ/ОГЭ
    tutor_or_mentor = "tutor_or_mentor"  # тьютор или наставник
    community_leader = "community_leader"  # руководитель профессионального сообщества, ассоциации
    high_student_results = "high_student_results"  # стабильно высокие результаты обучающихся


STATUS_LABELS_RU: dict[str, str] = {k: v["label_ru"] for k, v in DATA["statuses"].items()}
BASIS_LABELS_RU: dict[str, str] = {k: v["label_ru"] for k, v in DATA["bases"].items()}


def _words(table: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, entry in table.items():
        for word in [code, entry["label_ru"], *entry.get("aliases", [])]:
            out[fold(word)] = code
    return out


def fold(text: str) -> str:
    """A word as an import compares it: lower case, ё as е, single spaces."""
    return " ".join(str(text).lower().replace("ё", "е").split())


STATUS_WORDS = _words(DATA["statuses"])
BASIS_WORDS = _words(DATA["bases"])
assert set(STATUS_LABELS_RU) == {s.value for s in ActiveStatus}, "data/active.json statuses and ActiveStatus differ"
assert set(BASIS_LABELS_RU) == {b.value for b in BasisKind}, "data/active.json bases and BasisKind differ"


class ExpertDuty(enum.StrEnum):
    extended_answers = "extended_answers"  # проверка развёрнутых ответов участников оценки
    contest_works = "contest_works"  # экспертиза конкурсных работ
    regional_practices = "regional_practices"  # отбор эффективных региональных практик


class EnrolmentStatus(enum.StrEnum):
    enrolled = "enrolled"  # зачислен
    completed = "completed"  # завершил обучение


DUTIES: dict[str, dict[str, Any]] = {k: v for k, v in DATA["expert_duties"].items() if not k.startswith("_")}
DUTY_LABELS_RU: dict[str, str] = {k: v["label_ru"] for k, v in DUTIES.items()}
ENROLMENT_LABELS_RU: dict[str, str] = {k: v["label_ru"] for k, v in DATA["training"]["statuses"].items()}
TRAINING_KINDS: frozenset[str] = frozenset(DATA["training"]["resource_kinds"])
assert set(DUTIES) == {d.value for d in ExpertDuty}, "data/active.json expert_duties and ExpertDuty differ"
assert set(ENROLMENT_LABELS_RU) == {s.value for s in EnrolmentStatus}, "data/active.json training statuses differ"
