"""Names of municipalities and schools for the export, from the assessment directory (through the gateway).

The export shows a school and a municipality by name, the code in a column of its own. The names are read
once per export (`GET /api/v1/municipalities`, `GET /api/v1/organisations`: a region's directory is a few
thousand rows) with the routes service's own token. A code the directory does not hold is shown as such
(`NOT_IN_DIRECTORY`), never as a name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kit.client import GatewayClient
from services.routes.directory import MUNICIPALITIES_PATH, ORGANISATIONS_PATH, place_names

NOT_IN_DIRECTORY = "нет в справочнике"


class DirectoryUnavailable(Exception):
    """The assessment directory did not answer: the export is not written with codes instead of names."""


@dataclass(frozen=True)
class Directory:
    """Municipality and school names by code."""

    municipalities: Mapping[str, str] = field(default_factory=dict)
    organisations: Mapping[str, str] = field(default_factory=dict)

    def municipality(self, code: str) -> str:
        return self.municipalities.get(code) or NOT_IN_DIRECTORY

    def organisation(self, code: str) -> str:
        return self.organisations.get(code) or NOT_IN_DIRECTORY


def _names(answer: Any) -> dict[str, str]:
    """The directory's listing read by the same model as the print's lookups; another shape is no answer."""
    try:
        return place_names(answer)
    except ValidationError as e:
        raise DirectoryUnavailable("справочник муниципалитетов и школ ответил не списком") from e


async def read_directory(client: GatewayClient, region: str | None = None) -> Directory:
    """The directory of `region` (every region when None), read with the routes service's own token."""
    try:
        municipalities = await client.json("GET", MUNICIPALITIES_PATH, region=region)
        organisations = await client.json("GET", ORGANISATIONS_PATH, region=region)
    except Exception as e:  # refused, timed out, 5xx: the export waits for the directory rather than show codes
        raise DirectoryUnavailable(f"справочник муниципалитетов и школ не ответил ({e.__class__.__name__})") from e
    return Directory(_names(municipalities), _names(organisations))
