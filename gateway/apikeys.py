"""API keys for machine clients: issued and revoked by the CLI, stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.models import api_keys
from kit.auth import Principal, Role

KEY_PREFIX = "iomk"
# What new_key makes: anything else is refused without a database look-up.
KEY_FORMAT = re.compile(rf"{KEY_PREFIX}_[0-9a-f]{{8}}_[A-Za-z0-9_-]{{43}}")
# Roles a key may act as: never `service`, the services' own identity (kit.auth.TokenCodec).
KEY_ROLES = tuple(r for r in Role if r != Role.service)


class KeyRefused(ValueError):
    """A key that may not be issued (its role or scopes)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """Return (key, display prefix)."""
    prefix = secrets.token_hex(4)
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


@dataclass
class IssuedKey:
    id: uuid.UUID
    key: str
    prefix: str


def well_formed(key: str) -> bool:
    return KEY_FORMAT.fullmatch(key) is not None


def check_grant(role: Role, scopes: list[str], known: list[str]) -> None:
    """Refuse a key acting as a service, or with no scopes or unknown ones."""
    if role not in KEY_ROLES:
        raise KeyRefused(f"an API key may not act as {role.value}: that is the services' own identity")
    if not scopes:
        raise KeyRefused("give the key at least one scope")
    unknown = sorted(set(scopes) - set(known))
    if unknown:
        raise KeyRefused(f"unknown scopes: {', '.join(unknown)}")


async def issue(
    engine: AsyncEngine,
    *,
    name: str,
    role: Role,
    scopes: list[str],
    known_scopes: list[str],
    region: str | None = None,
    municipality: str | None = None,
    organisation: str | None = None,
    teacher_id: str | None = None,
    read_only: bool = False,
) -> IssuedKey:
    check_grant(role, scopes, known_scopes)
    key, prefix = new_key()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                insert(api_keys)
                .values(
                    name=name,
                    key_hash=hash_key(key),
                    prefix=prefix,
                    role=role.value,
                    region=region,
                    municipality=municipality,
                    organisation=organisation,
                    teacher_id=teacher_id,
                    read_only=read_only,
                    scopes=sorted(set(scopes)),
                )
                .returning(api_keys.c.id)
            )
        ).one()
    return IssuedKey(row.id, key, prefix)


async def revoke(engine: AsyncEngine, key_id: uuid.UUID) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    return bool(res.rowcount)


async def list_keys(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.name,
                api_keys.c.prefix,
                api_keys.c.role,
                api_keys.c.region,
                api_keys.c.municipality,
                api_keys.c.organisation,
                api_keys.c.read_only,
                api_keys.c.scopes,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
            ).order_by(api_keys.c.created_at)
        )
        return [dict(r._mapping) for r in rows]


class ApiKeyResolver:
    """Look keys up by hash with a short cache, so a revocation takes effect within seconds."""

    def __init__(self, engine: AsyncEngine, ttl_seconds: float) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def resolve(self, key: str) -> Principal | None:
        h = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(api_keys).where(api_keys.c.key_hash == h, api_keys.c.revoked_at.is_(None)))
            ).first()
        principal = None
        if row is not None and row.role != Role.service.value:
            principal = Principal(
                sub=f"apikey:{row.id}",
                role=Role(row.role),
                region=row.region,
                municipality=row.municipality,
                organisation=row.organisation,
                teacher_id=row.teacher_id,
                read_only=row.read_only,
                scopes=tuple(row.scopes),
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[h] = (now + self.ttl, principal)
        return principal
