"""Closed vocabularies of the registry; enums are add-only (clients are generated from them)."""

import enum


class Subject(enum.StrEnum):
    russian = "russian"
    literature = "literature"
    mathematics = "mathematics"
    informatics = "informatics"
    history = "history"
    social_studies = "social_studies"
    physics = "physics"
    chemistry = "chemistry"
    biology = "biology"
    geography = "geography"
    technology = "technology"
    english = "english"
    german = "german"
    french = "french"
    primary = "primary"


SUBJECT_LABELS_RU = {
    Subject.russian: "Русский язык",
    Subject.literature: "Литература",
    Subject.mathematics: "Математика",
    Subject.informatics: "Информатика",
    Subject.history: "История",
    Subject.social_studies: "Обществознание",
    Subject.physics: "Физика",
    Subject.chemistry: "Химия",
    Subject.biology: "Биология",
    Subject.geography: "География",
    Subject.technology: "Технология",
    Subject.english: "Английский язык",
    Subject.german: "Немецкий язык",
    Subject.french: "Французский язык",
    Subject.primary: "Начальные классы",
}


class QualificationCategory(enum.StrEnum):
    none = "none"  # без категории
    conformity = "conformity"  # соответствие занимаемой должности
    first = "first"  # первая
    highest = "highest"  # высшая


def normalize_name(value: str) -> str:
    """Fold a person's name for search: case-insensitive, ё = е, single spaces."""
    return " ".join(value.casefold().replace("ё", "е").split())
