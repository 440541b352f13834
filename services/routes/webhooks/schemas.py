"""API models of webhook subscriptions and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.routes.webhooks.events import EventType


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://portal.example.ru/hooks/iom",
                    "events": ["route.status_changed", "route.returned_for_correction"],
                    "description": "Портал школы: кабинет куратора",
                }
            ]
        },
    )
    url: str = Field(min_length=8, max_length=2000, description="http(s) address of the receiver (public only)")
    events: list[EventType] = Field(min_length=1, max_length=len(EventType), description="Events to receive")
    description: str = Field(default="", max_length=500)


class WebhookRead(BaseModel):
    id: uuid.UUID
    url: str
    events: list[EventType]
    description: str
    region: str | None = Field(description="The territory whose events are delivered: a region ...")
    municipality: str | None = Field(description="... narrowed to a municipality ...")
    organisation: str | None = Field(description="... or to a school")
    active: bool = Field(description="False once disabled after a run of failed attempts")
    failure_run: int = Field(description="Failed attempts in a row (a success resets it)")
    disabled_at: datetime | None
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="whsec_<base64>: verifies the signatures; shown only in this answer")


class WebhookPage(BaseModel):
    items: list[WebhookRead]
    next_cursor: str | None = None


class DeliveryAttempt(BaseModel):
    number: int
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered")
    outcome: str = Field(description="delivered, http-error, timeout, refused-address or connection-error")
    error: str | None = Field(description="Why the attempt failed (Russian)")
    duration_ms: int


class DeliveryRead(BaseModel):
    id: int
    event_id: uuid.UUID = Field(description="The webhook-id header: the same in every attempt")
    event_type: EventType
    state: str = Field(description="pending, delivered or failed (attempts exhausted)")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    log: list[DeliveryAttempt] = Field(description="Every attempt, oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
