"""Closed vocabularies of the audit service (enums are add-only) and the criteria seed data."""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Criterion:
    number: int
    label: str
    score_labels: tuple[str, str, str]
    max_score: int


@cache
def criteria() -> tuple[Criterion, ...]:
    """The ten route-analysis criteria (формат анализа ИОМ), loaded from the seed CSV."""
    with (DATA_DIR / "iom_criteria.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = tuple(
        Criterion(
            number=int(r["no"]),
            label=r["criterion"].strip(),
            score_labels=(r["score_0"].strip(), r["score_1"].strip(), r["score_2"].strip()),
            max_score=int(r["max_score"]),
        )
        for r in rows
    )
    if [c.number for c in out] != list(range(1, len(out) + 1)):
        raise RuntimeError("iom_criteria.csv must number the criteria 1..N in order")
    return out


CRITERIA_COUNT = 10


class Step(enum.StrEnum):
    """The nine steps of the management cycle scored in the monitoring of municipalities."""

    goals = "goals"
    indicators = "indicators"
    methods = "methods"
    monitoring = "monitoring"
    analysis = "analysis"
    recommendations = "recommendations"
    measures = "measures"
    decisions = "decisions"
    effectiveness = "effectiveness"


STEP_MAX: dict[Step, int] = {
    Step.goals: 21,
    Step.indicators: 10,
    Step.methods: 3,
    Step.monitoring: 15,
    Step.analysis: 15,
    Step.recommendations: 9,
    Step.measures: 21,
    Step.decisions: 3,
    Step.effectiveness: 3,
}
TOTAL_MAX = sum(STEP_MAX.values())
assert TOTAL_MAX == 100

STEP_LABELS_RU: dict[Step, str] = {
    Step.goals: "Цели",
    Step.indicators: "Показатели",
    Step.methods: "Методы сбора и обработки информации",
    Step.monitoring: "Мониторинг показателей",
    Step.analysis: "Анализ результатов мониторинга",
    Step.recommendations: "Адресные рекомендации",
    Step.measures: "Меры и мероприятия",
    Step.decisions: "Управленческие решения",
    Step.effectiveness: "Анализ эффективности принятых мер",
}


class Band(enum.StrEnum):
    """Colour band of a percent: below 30, 30-59, 60-79, 80 and above."""

    # The docstring is published in the OpenAPI; the edges, labels and colours are bands.BANDS.
    critical = "critical"
    low = "low"
    medium = "medium"
    high = "high"


class Direction(enum.StrEnum):
    """The twelve directions of professional development in the municipal documents checklist."""

    deficits = "deficits"
    subject_competencies = "subject_competencies"
    individual_routes = "individual_routes"
    retraining = "retraining"
    digital_environment = "digital_environment"
    methodological_active = "methodological_active"
    scientific_support = "scientific_support"
    young_teachers = "young_teachers"
    association_networks = "association_networks"
    association_analysis = "association_analysis"
    staffing_needs = "staffing_needs"
    staff_potential = "staff_potential"


DIRECTION_LABELS_RU: dict[Direction, str] = {
    Direction.deficits: "Выявление профессиональных дефицитов педагогических работников",
    Direction.subject_competencies: "Развитие предметных компетенций",
    Direction.individual_routes: "Индивидуальные образовательные маршруты",
    Direction.retraining: "Профессиональная переподготовка",
    Direction.digital_environment: "Цифровая образовательная среда дополнительного профессионального образования",
    Direction.methodological_active: "Методический актив",
    Direction.scientific_support: "Научно-методическое сопровождение",
    Direction.young_teachers: "Поддержка молодых педагогов и наставничество",
    Direction.association_networks: "Сети методических объединений",
    Direction.association_analysis: "Анализ деятельности методических объединений",
    Direction.staffing_needs: "Кадровые потребности",
    Direction.staff_potential: "Кадровый потенциал",
}


class ChecklistElement(enum.StrEnum):
    """What the checklist asks of each direction."""

    goals_and_tasks = "goals_and_tasks"
    quantitative_indicators = "quantitative_indicators"
    qualitative_indicators = "qualitative_indicators"
    collection_methods = "collection_methods"


ELEMENT_LABELS_RU: dict[ChecklistElement, str] = {
    ChecklistElement.goals_and_tasks: "Цели и задачи",
    ChecklistElement.quantitative_indicators: "Количественные показатели",
    ChecklistElement.qualitative_indicators: "Качественные показатели",
    ChecklistElement.collection_methods: "Методы сбора и обработки информации",
}


class DocumentType(enum.StrEnum):
    concept = "concept"  # концепция
    programme = "programme"  # программа
    regulation = "regulation"  # положение
    plan = "plan"  # план, дорожная карта
    order = "order"  # приказ
    other = "other"


DOCUMENT_TYPE_LABELS_RU: dict[DocumentType, str] = {
    DocumentType.concept: "Концепция",
    DocumentType.programme: "Программа",
    DocumentType.regulation: "Положение",
    DocumentType.plan: "План (дорожная карта)",
    DocumentType.order: "Приказ",
    DocumentType.other: "Иной документ",
}


class Level(enum.IntEnum):
    """Assessment levels, which are also the support groups 1..4."""

    low = 1
    basic = 2
    elevated = 3
    high = 4


LEVEL_BY_NAME = {lv.name: lv for lv in Level}
