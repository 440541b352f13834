"""Names of municipalities and schools for the export, from the assessment directory (through the gateway).

The export shows a school and a municipality by name, the code in a column of its own. The names are read
once per export (`GET /api/v1/municipalities`, `GET /api/v1/organisations`: a region's directory is a few
thousand rows) with the routes service's own token. A code the directory does not hold is shown as such
(`NOT_IN_DIRECTORY`), never as a name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kit.client import GatewayClient

NOT_IN_DIRECTORY = "нет в справочнике"
MUNICIPALITIES_PATH = "/api/v1/municipalities"
ORGANISATIONS_PATH = "/api/v1/organisations"


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
    if not isinstance(answer, list):
        raise DirectoryUnavailable("the assessment directory answered with something other than a list")
    return {str(i["code"]): str(i["name"]) for i in answer if isinstance(i, dict) and i.get("code") and i.get("name")}


async def read_directory(client: GatewayClient, region: str | None = None) -> Directory:
    """The directory of `region` (every region when None), read with the routes service's own token."""
    try:
        municipalities = await client.json("GET", MUNICIPALITIES_PATH, region=region)
        organisations = await client.json("GET", ORGANISATIONS_PATH, region=region)
    except Exception as e:  # refused, timed out, 5xx: the export waits for the directory rather than show codes
        raise DirectoryUnavailable(f"the assessment directory did not answer ({e.__class__.__name__})") from e
    return Directory(_names(municipalities), _names(organisations))
