"""The whole cycle of the regional regulation, driven only through a client generated from the OpenAPI.

Load the directory, teachers and a framework; create a campaign and upload its results; wait for the
routes; walk one route through every approval step with If-Match; complete it; audit it; download
the month's export; read the KPIs. Every call goes through the generated package's functions and
models (`package` is its import name); nothing here knows a URL except the export as CSV, which the
generated function cannot parse and is fetched with the generated client's own HTTP client.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import ModuleType
from typing import Any

from kit.auth import Role
from tests.assessment.intake_support import framework_doc, items_obj, scores_with
from tests.harness import token
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, REGION

WEAK = {"MA2", "MA3", "M3"}  # a group-2 result: one full review completes its audit
EVIDENCE = [{"title": "Сценарий урока", "url": "https://school.example/f/1"}]


@dataclass
class Person:
    external_id: str
    full_name: str
    municipality: str
    organisation: str
    subject: str = "mathematics"


DEFAULT_PEOPLE = (
    Person("gc-a1-1", "Орлова Вера Павловна", MUN_A, ORG_A1),
    Person("gc-a2-1", "Соколов Олег Ильич", MUN_A, ORG_A2),
    Person("gc-b1-1", "Лебедева Нина Юрьевна", MUN_B, ORG_B1),
)
# The tutor: a registered teacher of the walked teacher's school, chosen by id at approval (no result of their own).
TUTOR = Person("gc-tutor", "Зайцева Ольга Романовна", MUN_A, ORG_A1)


@dataclass
class Outcome:
    teacher_ids: dict[str, str] = field(default_factory=dict)
    campaign_id: str = ""
    route_id: str = ""
    statuses: list[str] = field(default_factory=list)
    audit_id: str = ""
    audit_total: int | None = None
    export_rows: list[Any] = field(default_factory=list)
    export_csv: str = ""
    kpis: dict[str, Any] = field(default_factory=dict)
    problem: Any = None


class Generated:
    """Operations and models of a generated package, looked up by operationId (`<tag>-<name>`)."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.models: ModuleType = importlib.import_module(f"{package}.models")
        self.types: ModuleType = importlib.import_module(f"{package}.types")
        self._client: ModuleType = importlib.import_module(f"{package}.client")

    def op(self, operation_id: str) -> ModuleType:
        tag, name = operation_id.rsplit("-", 1)  # tags may hold "-" (resource-map)
        module = f"{tag}_{name}".replace("-", "_")
        return importlib.import_module(f"{self.package}.api.{tag.replace('-', '_')}.{module}")

    def client(self, base_url: str, role: Role, **scope: Any) -> Any:
        return self._client.AuthenticatedClient(
            base_url=base_url, token=token(role, ttl=1800, **scope), raise_on_unexpected_status=True, timeout=None
        )


def expect(resp: Any, status: int, what: str) -> Any:
    """The parsed body of a `*_detailed` answer, after checking its status."""
    assert resp.status_code == status, f"{what}: {resp.status_code} {resp.content[:500]!r}"
    return resp.parsed


async def walk(gen: Generated, base_url: str, people: tuple[Person, ...] = DEFAULT_PEOPLE) -> Outcome:
    m = gen.models
    out = Outcome()
    service = gen.client(base_url, Role.service, region=REGION)
    regional = gen.client(base_url, Role.regional_specialist, region=REGION)
    who = people[0]

    body = [
        m.MunicipalityWrite.from_dict({"code": c, "name": n, "region": REGION})
        for c, n in ((MUN_A, "Округ А"), (MUN_B, "Округ Б"))
    ]
    expect(await gen.op("directory-upsert_municipalities").asyncio_detailed(client=service, body=body), 200, "mun")
    orgs = [
        m.OrganisationWrite.from_dict({"code": c, "name": f"Школа {c}", "municipality": mun})
        for c, mun in ((ORG_A1, MUN_A), (ORG_A2, MUN_A), (ORG_B1, MUN_B))
    ]
    expect(await gen.op("directory-upsert_organisations").asyncio_detailed(client=service, body=orgs), 200, "orgs")
    rows = [
        {
            "external_id": p.external_id,
            "full_name": p.full_name,
            "municipality": p.municipality,
            "organisation": p.organisation,
            "position": "учитель",
            "subjects": [p.subject],
            "qualification_category": "first",
            "experience_years": 12,
        }
        for p in (*people, TUTOR)
    ]
    bulk = m.TeacherBulk.from_dict({"teachers": rows})
    expect(await gen.op("teachers-bulk_upsert_teachers").asyncio_detailed(client=service, body=bulk), 200, "bulk")
    for p in (*people, TUTOR):
        got = await gen.op("teachers-get_teacher_by_external_id").asyncio(external_id=p.external_id, client=service)
        assert isinstance(got, m.TeacherRead), got
        out.teacher_ids[p.external_id] = str(got.id)

    fw = m.FrameworkCreate.from_dict(framework_doc())
    expect(await gen.op("frameworks-create_framework").asyncio_detailed(client=service, body=fw), 201, "framework")
    campaign = m.AssessmentCampaignCreate.from_dict(
        {
            "name": "ИКУ: математика",
            "source": "fioko_subject",
            "subject": "mathematics",
            "assessed_on": datetime.now(UTC).date().isoformat(),
            "framework_code": "default",
            "instrument": "oku-omk-mathematics",
        }
    )
    created = expect(
        await gen.op("campaigns-create_campaign").asyncio_detailed(client=regional, body=campaign), 201, "campaign"
    )
    out.campaign_id = str(created.id)
    results = m.CampaignsUploadResultsJsonBody.from_dict(
        {
            "rows": [
                {"external_id": p.external_id, "items": items_obj(scores_with(WEAK if p is who else {"M1"}))}
                for p in people
            ]
        }
    )
    uploaded = await gen.op("campaigns-upload_results").asyncio_detailed(
        campaign_id=created.id, client=service, body=results, idempotency_key=uuid.uuid4().hex
    )
    assert uploaded.status_code in (HTTPStatus.OK, HTTPStatus.CREATED), uploaded.content[:500]

    # Routes are generated from the assessment change feed, in the background.
    route = None
    deadline = asyncio.get_running_loop().time() + 30
    while route is None and asyncio.get_running_loop().time() < deadline:
        page = await gen.op("routes-list_routes").asyncio(
            client=regional, teacher_id=uuid.UUID(out.teacher_ids[who.external_id]), limit=10
        )
        assert isinstance(page, m.RoutePage), page
        route = page.items[0] if page.items else None
        if route is None:
            await asyncio.sleep(0.2)
    assert route is not None, "no route was generated within 30s"
    out.route_id = str(route.id)
    rid = route.id

    people_clients = {
        "regional": regional,
        "methodologist": gen.client(
            base_url, Role.municipal_methodologist, region=REGION, municipality=who.municipality
        ),
        "school": gen.client(
            base_url, Role.school_admin, region=REGION, municipality=who.municipality, organisation=who.organisation
        ),
        "teacher": gen.client(
            base_url,
            Role.teacher,
            region=REGION,
            municipality=who.municipality,
            organisation=who.organisation,
            teacher_id=out.teacher_ids[who.external_id],
        ),
    }
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("recommend", "regional", {}),
        ("send_to_municipality", "regional", {}),
        ("agree_with_school", "methodologist", {}),
        ("approve", "school", {"tutor": {"teacher_id": out.teacher_ids[TUTOR.external_id]}}),
        ("start", "teacher", {}),
        ("complete", "teacher", {"evidence": EVIDENCE}),
    ]
    get_route = gen.op("routes-get_route")
    transition = gen.op("routes-transition_route")
    for action, actor, extra in steps:
        client = people_clients[actor]
        current = await get_route.asyncio_detailed(route_id=rid, client=client)
        expect(current, 200, f"read before {action}")
        missing = await transition.asyncio_detailed(
            route_id=rid, client=client, body=m.TransitionRequest.from_dict({"action": action, **extra})
        )
        problem = expect(missing, 428, f"{action} without If-Match")
        assert isinstance(problem, m.Problem) and problem.status == 428
        moved = await transition.asyncio_detailed(
            route_id=rid,
            client=client,
            body=m.TransitionRequest.from_dict({"action": action, **extra}),
            if_match=current.headers["etag"],
        )
        read = expect(moved, 200, action)
        assert isinstance(read, m.RouteRead)
        out.statuses.append(str(read.status))

    auditor = people_clients["methodologist"]
    started = expect(
        await gen.op("audits-start_audit").asyncio_detailed(
            client=auditor, body=m.AuditCreate.from_dict({"route_id": str(rid)})
        ),
        201,
        "start audit",
    )
    out.audit_id = str(started.id)
    review = m.ReviewWrite.from_dict({"criteria": [{"number": n, "score": 2 if n % 3 else 1} for n in range(1, 11)]})
    reviewed = await gen.op("audits-put_my_review").asyncio_detailed(audit_id=started.id, client=auditor, body=review)
    expect(reviewed, 200, "review")
    done = expect(
        await gen.op("audits-complete_audit").asyncio_detailed(
            audit_id=started.id, client=auditor, if_match=reviewed.headers["etag"]
        ),
        200,
        "complete audit",
    )
    out.audit_total = done.total
    # The audit service tells the routes service through its outbox; the route becomes `audited`.
    deadline = asyncio.get_running_loop().time() + 30
    status = ""
    while asyncio.get_running_loop().time() < deadline:
        status = str((await get_route.asyncio(route_id=rid, client=regional)).status)
        if status == "audited":
            break
        await asyncio.sleep(0.2)
    out.statuses.append(status)

    month = datetime.now(UTC).strftime("%Y-%m")
    fmt = m.ExportFormat
    exported = await gen.op("exports-export_monthly").asyncio_detailed(client=auditor, month=month, format_=fmt.JSON)
    out.export_rows = list(expect(exported, 200, "export json"))
    http = auditor.get_async_httpx_client()
    csv_answer = await http.get("/api/v1/exports/monthly", params={"month": month, "format": "csv"})
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    out.export_csv = csv_answer.content.decode("utf-8-sig")

    dashboard = expect(await gen.op("kpi-kpi_dashboard").asyncio_detailed(client=regional), 200, "kpi")
    assert isinstance(dashboard, m.KpiDashboard)
    out.kpis = {k.code: k.to_dict() for k in dashboard.kpis}

    out.problem = await get_route.asyncio(route_id=uuid.uuid4(), client=regional)
    for c in (service, *people_clients.values()):
        await c.get_async_httpx_client().aclose()
    return out


def describe(outcome: Outcome) -> str:
    return json.dumps(
        {k: v for k, v in outcome.__dict__.items() if k not in ("export_rows", "problem")},
        ensure_ascii=False,
        default=str,
    )[:2000]
