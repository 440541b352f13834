"""Closed vocabularies of the resource map; enums are add-only (clients are generated from them)."""

from __future__ import annotations

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


SUBJECT_LABELS_RU: dict[str, str] = {
    "russian": "русский язык",
    "literature": "литература",
    "mathematics": "математика",
    "informatics": "информатика",
    "history": "история",
    "social_studies": "обществознание",
    "physics": "физика",
    "chemistry": "химия",
    "biology": "биология",
    "geography": "география",
    "technology": "технология",
    "english": "английский язык",
    "german": "немецкий язык",
    "french": "французский язык",
    "primary": "начальные классы",
}


class ResourceKind(enum.StrEnum):
    course = "course"  # курс повышения квалификации (ПК)
    project = "project"  # проект центра (школа профмастерства, педклуб, лаборатория)
    event = "event"  # вебинар, семинар, практикум, конференция ...
    internship = "internship"  # стажировочная площадка
    community = "community"  # профессиональное сообщество
    methodological_association = "methodological_association"  # методическое объединение
    self_study = "self_study"  # материалы для самообразования
    peer_resource = "peer_resource"  # ресурс педагога для коллег («равный учит равного»)


KIND_LABELS_RU: dict[str, str] = {
    "course": "курс повышения квалификации",
    "project": "проект центра",
    "event": "мероприятие",
    "internship": "стажировочная площадка",
    "community": "профессиональное сообщество",
    "methodological_association": "методическое объединение",
    "self_study": "материалы для самообразования",
    "peer_resource": "ресурс коллеги",
}


class EventFormat(enum.StrEnum):
    webinar = "webinar"
    seminar = "seminar"
    practicum = "practicum"
    conference = "conference"
    round_table = "round_table"
    coach_session = "coach_session"
    training = "training"
    facilitation_session = "facilitation_session"


class LearningType(enum.StrEnum):
    formal = "formal"
    non_formal = "non_formal"
    informal = "informal"


LEARNING_TYPE_LABELS_RU: dict[str, str] = {
    "formal": "формальное обучение",
    "non_formal": "неформальное обучение",
    "informal": "информальное обучение",
}


class Mode(enum.StrEnum):
    online = "online"
    in_person = "in_person"
    mixed = "mixed"


MODE_LABELS_RU: dict[str, str] = {"online": "онлайн", "in_person": "очно", "mixed": "смешанный формат"}


class OwnerScope(enum.StrEnum):
    region = "region"  # the regional catalogue (ЦНППМ)
    municipality = "municipality"  # a municipality's local resource (ММС)
    teacher = "teacher"  # a teacher's own resource offered to colleagues


class ResourceStatus(enum.StrEnum):
    active = "active"
    archived = "archived"


class MentorRole(enum.StrEnum):
    mentor = "mentor"  # наставник
    methodist = "methodist"  # педагог-методист регионального методического актива
    tutor = "tutor"  # тьютор


MENTOR_ROLE_LABELS_RU: dict[str, str] = {"mentor": "наставник", "methodist": "педагог-методист", "tutor": "тьютор"}


class MentorStatus(enum.StrEnum):
    active = "active"
    inactive = "inactive"


class MembershipAction(enum.StrEnum):
    entered = "entered"  # вошёл в методический актив
    confirmed = "confirmed"  # подтвердил статус (по результатам оценки)
    left = "left"  # выбыл
    returned = "returned"  # вернулся


class ReservationStatus(enum.StrEnum):
    active = "active"
    released = "released"


class ReservationOrigin(enum.StrEnum):
    route = "route"  # a route (ИОМ) reserved it
    assignment = "assignment"  # the region-wide mentor assignment made it


GROUP_LABELS_RU: dict[int, str] = {
    1: "низкий уровень",
    2: "базовый уровень",
    3: "повышенный уровень",
    4: "высокий уровень",
}
