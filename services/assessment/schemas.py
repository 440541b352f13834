"""API models of the assessment service: XCreate / XUpdate / XRead / XPage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.assessment.vocab import QualificationCategory, Subject

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

_FORBID = ConfigDict(extra="forbid")


class MunicipalityWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "mo-01", "name": "Городской округ Северный", "region": "r-77"}]},
    )
    code: Code
    name: Text300
    region: Code


class MunicipalityRead(BaseModel):
    code: str
    name: str
    region: str


class OrganisationWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "oo-0101", "name": "МБОУ СОШ № 1", "municipality": "mo-01"}]},
    )
    code: Code
    name: Text300
    municipality: Code


class OrganisationRead(BaseModel):
    code: str
    name: str
    municipality: str


def _unique_subjects(v: list[Subject]) -> list[Subject]:
    seen: list[Subject] = []
    for s in v:
        if s not in seen:
            seen.append(s)
    return seen


TEACHER_EXAMPLE: dict[str, Any] = {
    "external_id": "portal-000123",
    "full_name": "Иванова Мария Петровна",
    "municipality": "mo-01",
    "organisation": "oo-0101",
    "position": "учитель математики",
    "subjects": ["mathematics"],
    "qualification_category": "first",
    "experience_years": 12,
}


def _not_in_future(year: int) -> int:
    if year > date.today().year:
        raise ValueError("Год рождения не может быть позже текущего года")
    return year


# Only the year of birth (optional): the registry needs no more for the KPI of young teachers.
BirthYear = Annotated[int, Field(ge=1900, description="Year of birth (optional)"), AfterValidator(_not_in_future)]


class TeacherCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [TEACHER_EXAMPLE]})
    external_id: ExternalId = Field(description="The teacher's id in the school portal")
    full_name: PersonName
    municipality: Code
    organisation: Code
    position: Text300
    subjects: list[Subject] = Field(default_factory=list, max_length=15)
    qualification_category: QualificationCategory = QualificationCategory.none
    experience_years: int = Field(default=0, ge=0, le=70)
    birth_year: BirthYear | None = None

    _subjects = field_validator("subjects")(_unique_subjects)


class TeacherUpdate(BaseModel):
    """Partial update; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"position": "заместитель директора", "experience_years": 13}]}
    )
    full_name: PersonName | None = None
    municipality: Code | None = None
    organisation: Code | None = None
    position: Text300 | None = None
    subjects: list[Subject] | None = Field(default=None, max_length=15)
    qualification_category: QualificationCategory | None = None
    experience_years: int | None = Field(default=None, ge=0, le=70)
    birth_year: BirthYear | None = None

    @field_validator("subjects")
    @classmethod
    def _dedupe(cls, v: list[Subject] | None) -> list[Subject] | None:
        return None if v is None else _unique_subjects(v)


class TeacherRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a",
                    **TEACHER_EXAMPLE,
                    "region": "r-77",
                    "version": 1,
                    "created_at": "2026-11-01T09:00:00Z",
                    "updated_at": "2026-11-01T09:00:00Z",
                }
            ]
        }
    )
    id: uuid.UUID
    external_id: str
    full_name: str
    region: str
    municipality: str
    organisation: str
    position: str
    subjects: list[str]
    qualification_category: str
    experience_years: int
    birth_year: int | None = Field(default=None, description="Year of birth, when the registry holds it")
    version: int
    created_at: datetime
    updated_at: datetime
    depersonalised_at: datetime | None = Field(
        default=None, description="When the teacher was depersonalised (name and external id removed for good)"
    )


class TeacherPage(BaseModel):
    items: list[TeacherRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class TeacherBulk(BaseModel):
    """Upsert by external id; all rows are validated first and nothing is stored if any is bad."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"teachers": [TEACHER_EXAMPLE]}]})
    teachers: list[TeacherCreate] = Field(min_length=1, max_length=5000)


class BulkResult(BaseModel):
    inserted: int
    updated: int
    unchanged: int = 0
    rejected: int = 0


class PersonalDataEntry(BaseModel):
    """Who handled whose personal data and when: ids and roles only, no personal values."""

    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    teacher_id: uuid.UUID
    region: str


class PersonalDataLogPage(BaseModel):
    items: list[PersonalDataEntry]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")
