"""Webhook subscriptions of a territory (Standard Webhooks signatures) and their delivery log."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Response

from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from services.routes.auth import WebhookKeeper
from services.routes.deps import Settings
from services.routes.webhooks import service
from services.routes.webhooks.schemas import DeliveryPage, WebhookCreate, WebhookCreated, WebhookPage, WebhookRead

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a receiver to events of your territory (the signing secret is shown only here)",
    description="Messages are signed as the Standard Webhooks specification says (webhook-id, webhook-timestamp, "
    "webhook-signature: v1,<base64 HMAC-SHA256 of `id.timestamp.body`>). The territory is yours: the region, "
    "your municipality or your school. Receivers on loopback, private or link-local addresses are refused.",
)
async def create_webhook(
    body: WebhookCreate, principal: WebhookKeeper, session: DbSession, settings: Settings
) -> dict[str, Any]:
    return await service.create(session, principal, settings, body)


@router.get("", response_model=WebhookPage, summary="Webhook subscriptions in your scope (newest first)")
async def list_webhooks(
    principal: WebhookKeeper,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_subscriptions(session, principal, cursor, limit)


@router.get(
    "/{webhook_id}", response_model=WebhookRead, summary="A webhook subscription", responses=problem_responses(404)
)
async def get_webhook(webhook_id: uuid.UUID, principal: WebhookKeeper, session: DbSession) -> dict[str, Any]:
    return await service.get(session, principal, webhook_id)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a webhook subscription with its delivery log",
    responses=problem_responses(404),
)
async def delete_webhook(webhook_id: uuid.UUID, principal: WebhookKeeper, session: DbSession) -> Response:
    await service.delete(session, principal, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    summary="Deliveries of a subscription, newest first, each with every attempt",
    responses=problem_responses(404),
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    principal: WebhookKeeper,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.deliveries(session, principal, webhook_id, cursor, limit)
