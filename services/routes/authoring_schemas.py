"""API models of authoring a route (regulation steps 1-3, and corrections while it runs), of the tutor's
control-point results and of the teacher's reflection after the audit."""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.routes.schemas import Comment, Reason

FreeText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class Course(BaseModel):
    """An advanced-training course of the last three years."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    hours: Annotated[int, Field(ge=1, le=2000)]
    year: Annotated[int, Field(ge=1990, le=2100)]
    provider: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ProfessionalProfileUpdate(BaseModel):
    """Section 2: achievements and the courses of the last three years (replacing the previous ones)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "achievements": ["Призёр муниципального конкурса «Учитель года»"],
                    "courses": [{"title": "Формирующее оценивание", "hours": 36, "year": 2026, "provider": "ЦНППМ"}],
                }
            ]
        },
    )
    achievements: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=30
    )
    courses: list[Course] = Field(default_factory=list, max_length=30)


class GoalCreate(BaseModel):
    """A goal a person adds: the problem of the coming period (a template of the constructor, filled in, or
    free text) and, optionally, its direction (the competency it develops)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "problem": "Изменение способа оценивания образовательных результатов обучающихся 7 класса",
                    "direction": "Педагогическое оценивание",
                }
            ]
        },
    )
    problem: FreeText
    direction: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None


class GoalUpdate(BaseModel):
    """Change a goal's problem statement or direction (with a reason, kept in the history)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"problem": "Создание условий для достижения метапредметных результатов обучающихся"}]
        },
    )
    problem: FreeText | None = None
    direction: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None
    reason: Reason | None = None


class TaskKind(enum.StrEnum):
    learning = "learning"
    practice_change = "practice_change"


class ConstructorPick(BaseModel):
    """One row of the constructor (GET /routes/constructor): a formulation and a result form of that row."""

    model_config = ConfigDict(extra="forbid")
    row: Annotated[int, Field(ge=0, le=100)]
    formulation: Annotated[int, Field(ge=0, le=100)]
    result_form: Annotated[int, Field(ge=0, le=100)]


class TaskCreate(BaseModel):
    """A task a person adds to a goal: built from the constructor (kind and one row) or written freely
    (formulation and result form, both checked). Dates default to the route's period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "learning", "constructor": {"row": 1, "formulation": 0, "result_form": 0}},
                {
                    "kind": "practice_change",
                    "formulation": "Разработать и провести серию уроков с листами самооценивания",
                    "result_form": "Сценарии уроков и листы самооценивания",
                    "starts_on": "2027-02-01",
                    "ends_on": "2027-04-30",
                },
            ]
        },
    )
    kind: TaskKind
    constructor: ConstructorPick | None = None
    formulation: FreeText | None = None
    result_form: FreeText | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class ReflectionUpdate(BaseModel):
    """The teacher's reflection on the products, written once the route is audited (section 7)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Освоила приемы формирующего оценивания и применяю их на уроках"}]},
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=10000)]


class ControlPointResult(BaseModel):
    """The result of one control point (named by its task and date), recorded by the tutor or the school."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"task_id": "M3-L", "date": "2027-01-31", "accepted": True, "comment": "Подборка приемов представлена"}
            ]
        },
    )
    task_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    date: date
    accepted: bool = Field(description="Whether the result presented is accepted")
    comment: Comment | None = None


class ConstructorFormulation(BaseModel):
    index: int
    verb: str
    object: str = Field(description="Written in the case the verb governs")
    text: str


class ConstructorResultForm(BaseModel):
    index: int
    text: str = Field(description="«…» stands for the goal's direction where the form names it")
    names_direction: bool = Field(description="Whether the form is filled with the goal's direction")


class ConstructorRow(BaseModel):
    row: int
    formulations: list[ConstructorFormulation]
    result_forms: list[ConstructorResultForm]
    source_formulations: list[str] = Field(description="The row as the methodology writes it")
    source_result_forms: list[str] = Field(description="The row's result forms as the methodology writes them")


class ConstructorKind(BaseModel):
    kind: TaskKind
    label: str
    rows: list[ConstructorRow]


class ConstructorRead(BaseModel):
    """The task constructor (per kind, rows of verbs with objects and result forms) and the templates of
    the problem statements of the route's first column, in Russian."""

    kinds: list[ConstructorKind]
    problem_statements: list[str]
