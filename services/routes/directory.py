"""Names of municipalities and schools from the assessment directory, over HTTP through the gateway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, TypeAdapter

from kit.client import GatewayClient, UpstreamError
from kit.errors import UpstreamUnavailable

log = logging.getLogger("routes.directory")
MUNICIPALITIES_PATH = "/api/v1/municipalities"
ORGANISATIONS_PATH = "/api/v1/organisations"


class Place(BaseModel):
    """A municipality or a school of the assessment directory: its code and its name."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    code: str
    name: str


PLACES = TypeAdapter(list[Place])
# Names kept without a code a lookup needs are asked again after this long (not at every print of a route
# whose school is not in the directory at all).
MISS_RETRY_SECONDS = 5.0
# Listings kept per process (one per region and one per municipality): the oldest go first beyond this.
DIRECTORY_ENTRIES = 10_000


def place_names(answer: Any) -> dict[str, str]:
    """Code -> name of a directory listing (a JSON list of places), read through the `Place` model."""
    return {p.code: p.name for p in PLACES.validate_python(answer or [])}


class Directory:
    """Names of municipalities and schools (GET /municipalities, /organisations of the assessment directory).

    A route stores codes; everything a person reads (the printed route, the form reasons, the export) names
    them. Names are asked once per region (municipalities) or municipality (schools) and kept for `ttl`
    seconds: the directory changes rarely and a renamed school prints under its new name after that. A lookup
    that needs a code the kept names lack (a school added since) asks again, at most every
    `MISS_RETRY_SECONDS`. When the directory cannot answer, the lookups answer what they have (possibly
    nothing) and are not kept."""

    def __init__(self, client: GatewayClient, ttl: float = 600.0) -> None:
        self.client = client
        self.ttl = ttl
        # (region, listing) -> (asked at, code -> name), each kept `ttl` seconds
        self._cache: TTLCache[tuple[str, str], tuple[float, dict[str, str]]] = TTLCache(DIRECTORY_ENTRIES, ttl)
        self._lock = asyncio.Lock()

    def _kept(self, key: tuple[str, str], needs: str | None) -> dict[str, str] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        asked, names = hit
        if needs is not None and needs not in names and asked + MISS_RETRY_SECONDS <= time.monotonic():
            return None
        return names

    async def _names(
        self, region: str, path: str, params: dict[str, str] | None, needs: str | None = None
    ) -> dict[str, str]:
        key = (region, path + repr(sorted((params or {}).items())))
        kept = self._kept(key, needs)
        if kept is not None:
            return kept
        async with self._lock:
            kept = self._kept(key, needs)
            if kept is not None:
                return kept
            asked = time.monotonic()
            try:
                answer = await self.client.json("GET", path, params=params, region=region or None)
            except (UpstreamError, UpstreamUnavailable) as e:
                log.warning("directory refused", extra={"path": path, "status": getattr(e, "status", 503)})
                hit = self._cache.get(key)
                return hit[1] if hit is not None else {}
            names = place_names(answer)
            self._cache[key] = (asked, names)
            return names

    async def municipality_names(self, region: str, *, needs: str | None = None) -> dict[str, str]:
        """Municipality code -> name, for one region (`needs`: a code the answer should name)."""
        return await self._names(region, MUNICIPALITIES_PATH, None, needs)

    async def municipality_names_in(self, regions: Sequence[str]) -> dict[str, str]:
        """Municipality code -> name, for several regions (the form reasons of a generation batch)."""
        out: dict[str, str] = {}
        for region in sorted(set(regions)):
            out.update(await self.municipality_names(region))
        return out

    async def organisation_names(self, region: str, municipality: str, *, needs: str | None = None) -> dict[str, str]:
        """School code -> name, for the schools of one municipality (`needs`: a code the answer should name)."""
        return await self._names(region, ORGANISATIONS_PATH, {"municipality": municipality}, needs)
