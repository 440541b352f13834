"""Helpers for intake tests: the default framework, a campaign, score rows, uploads."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.region import Region, as_regional, seed_region, service_headers

FRAMEWORK_FILE = Path(__file__).resolve().parents[2] / "services/assessment/data/default_framework.json"
MATH = "oku-omk-mathematics"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def framework_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    return doc


def instrument(code: str = MATH) -> dict[str, Any]:
    return next(i for i in framework_doc()["instruments"] if i["code"] == code)


def item_codes(code: str = MATH) -> list[str]:
    return [it["code"] for it in instrument(code)["items"]]


def item_max(code: str = MATH) -> list[float]:
    return [it["max_points"] for it in instrument(code)["items"]]


def full_marks(code: str = MATH) -> list[float]:
    return list(item_max(code))


def scores_with(weak: set[str] | None = None, code: str = MATH, base: float = 1.0) -> list[float]:
    """Full marks except items of the `weak` competencies, which get 0; `base` scales the rest."""
    weak = weak or set()
    out = []
    for it in instrument(code)["items"]:
        out.append(0 if it["competency"] in weak else round(it["max_points"] * base))
    return out


@dataclass
class Intake:
    region: Region
    framework: dict[str, Any]
    campaign: dict[str, Any]

    @property
    def campaign_id(self) -> str:
        return str(self.campaign["id"])


async def load_framework(api: httpx.AsyncClient, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await api.post("/api/v1/frameworks", json=doc or framework_doc(), headers=service_headers())
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def create_campaign(api: httpx.AsyncClient, **over: Any) -> dict[str, Any]:
    body = {
        "name": "ФИОКО 2026: математика",
        "source": "fioko_subject",
        "subject": "mathematics",
        "assessed_on": "2026-04-15",
        "framework_code": "default",
        "instrument": MATH,
        **over,
    }
    r = await api.post("/api/v1/campaigns", json=body, headers=as_regional())
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def setup_intake(api: httpx.AsyncClient, teachers: list[dict[str, Any]] | None = None) -> Intake:
    region = await seed_region(api, teachers)
    fw = await load_framework(api)
    campaign = await create_campaign(api)
    return Intake(region, fw, campaign)


def csv_text(rows: list[list[Any]], header: list[str] | None = None, sep: str = ";") -> str:
    head = header or ["external_id", *item_codes()]
    lines = [sep.join(head)] + [sep.join("" if v is None else str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def row(external_id: str, scores: list[float]) -> list[Any]:
    return [external_id, *[int(s) if float(s).is_integer() else s for s in scores]]


async def upload(
    api: httpx.AsyncClient,
    campaign_id: str,
    content: bytes | str,
    content_type: str = CSV,
    *,
    key: str | None = "auto",
    mode: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h = dict(headers or service_headers())
    h["Content-Type"] = content_type
    if key == "auto":
        key = uuid.uuid4().hex
    if key is not None:
        h["Idempotency-Key"] = key
    params = {"mode": mode} if mode else None
    data = content.encode("utf-8") if isinstance(content, str) else content
    return await api.post(f"/api/v1/campaigns/{campaign_id}/results", content=data, headers=h, params=params)


async def upload_json(
    api: httpx.AsyncClient, campaign_id: str, rows: list[dict[str, Any]], **kw: Any
) -> httpx.Response:
    return await upload(api, campaign_id, json.dumps({"rows": rows}), "application/json", **kw)


def items_obj(scores: list[float], code: str = MATH) -> dict[str, float]:
    return dict(zip(item_codes(code), scores, strict=True))
