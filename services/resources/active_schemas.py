"""Request and answer models of the regional methodological active (issue 15): members and candidates, their
status history, candidates from a campaign, inclusion by an order, removal with a reason."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.resources.active_vocab import ActiveStatus, BasisKind

OrderNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: OrderNumber = Field(description="Номер приказа регионального института")
    date: dt.date


class OrderRead(BaseModel):
    id: uuid.UUID
    number: str
    date: dt.date


class Criterion(BaseModel):
    code: str = Field(description="level, qualification_category or experience")
    holds: bool
    text: str = Field(description="What holds or does not, in Russian")


class Basis(BaseModel):
    kind: BasisKind
    label: str = Field(description="The basis in Russian")
    campaign: str | None = Field(default=None, description="The assessment campaign (id or the list's reference)")
    level: str | None = Field(default=None, description="The level of that assessment (low, basic, elevated, high)")
    level_label: str | None = None


class MemberRead(BaseModel):
    id: uuid.UUID
    region: str
    teacher_id: uuid.UUID
    municipality: str
    organisation: str | None
    subjects: list[str]
    subject_labels: list[str] = Field(description="The subjects in Russian")
    status: ActiveStatus
    status_label: str
    since: dt.date = Field(description="Since when the status holds")
    order: OrderRead | None = Field(default=None, description="The order that included the member")
    basis: Basis
    criteria: list[Criterion] = Field(default_factory=list, description="A candidate's entry criteria")
    left_reason: str | None = None
    mentor_id: uuid.UUID | None = Field(default=None, description="The member's mentor record, when they mentor")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MemberPage(BaseModel):
    items: list[MemberRead]
    next_cursor: str | None = None


class MemberEvent(BaseModel):
    id: int
    status_from: ActiveStatus | None
    status_to: ActiveStatus
    status_label: str
    happened_on: dt.date
    order: OrderRead | None = None
    reason: str | None = None
    recorded_at: dt.datetime


class CandidatesResult(BaseModel):
    campaign_id: uuid.UUID
    policy: str
    policy_label: str
    participants: int = Field(description="Results of the campaign read")
    added: int = Field(description="New candidates")
    updated: int = Field(description="Candidates (or those who had left) whose criteria were recomputed")
    already_members: int = Field(description="Participants who already are members (left as they are)")
    items: list[MemberRead] = Field(description="The campaign's candidates with their criteria")


class MemberVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID
    version: int = Field(ge=1, description="The version read (the ETag's number): a stale one refuses the batch")


INCLUSION_EXAMPLE: dict[str, Any] = {
    "order": {"number": "01-12/345", "date": "2026-09-01"},
    "members": [{"id": "7d4c0a5e-1b7e-4c59-9f0a-2f3f1d1c2b3a", "version": 1}],
}


class InclusionCreate(BaseModel):
    """One order includes a batch of candidates; all or none (each as read: its version, as If-Match does)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [INCLUSION_EXAMPLE]})
    order: OrderIn
    members: list[MemberVersion] = Field(min_length=1, max_length=2000)


class InclusionResult(BaseModel):
    order: OrderRead
    included: list[MemberRead]


class RemovalCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Переход на работу в другой регион", "date": "2026-10-01"}]},
    )
    reason: Reason
    date: dt.date | None = Field(default=None, description="When the member left (today when absent)")
    order: OrderIn | None = Field(default=None, description="The order that removed the member, if any")
