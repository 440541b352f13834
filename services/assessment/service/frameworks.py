"""Storing competency frameworks: a checked document becomes the next version of its code."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import FieldError, ValidationFailed
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.result_schemas import FrameworkCreate
from services.assessment.scoring import check_framework


async def create_framework(session: AsyncSession, principal: Principal, body: FrameworkCreate) -> dict[str, Any]:
    """Store the framework (422 naming every inconsistency); return the stored row."""
    document = body.model_dump(mode="json")
    problems = check_framework(document)
    if problems:
        raise ValidationFailed(
            "Модель компетенций противоречива: исправьте отмеченные места",
            errors=[FieldError(loc=["body", *loc], code=code, message=msg) for loc, code, msg in problems],
        )
    return await FrameworkRepository(session).create(
        region=principal.region, code=body.code, name=body.name, document=document
    )
