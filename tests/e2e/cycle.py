"""The whole cycle of the regional regulation, driven only through a client generated from the OpenAPI.

Load the directory, teachers and a framework; create a campaign and upload its results; wait for the
routes; walk one route through every approval step with If-Match; complete it; audit it; download
the month's export; read the KPIs. Every call goes through the generated package's functions and
models (`package` is its import name); nothing here knows a URL except the export as CSV, which the
generated function cannot parse and is fetched with the generated client's own HTTP client.

`walk_authoring` walks the regulation's authoring flow the same way (issue 14 point 6): a school's webhook
subscription, the teacher's profile, a goal with a task from the constructor, a chosen form and its seat, the
review and the approval with a tutor; the only other party is a real webhook receiver (tests/webhook_receiver.py).
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
from tests.webhook_receiver import Received, Receiver

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


async def register(gen: Generated, service: Any, people: tuple[Person, ...]) -> dict[str, str]:
    """The crafted region's municipalities and schools, the people and the tutor in the registry: their ids."""
    m = gen.models
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
    ids: dict[str, str] = {}
    for p in (*people, TUTOR):
        got = await gen.op("teachers-get_teacher_by_external_id").asyncio(external_id=p.external_id, client=service)
        assert isinstance(got, m.TeacherRead), got
        ids[p.external_id] = str(got.id)
    return ids


async def assess(gen: Generated, service: Any, regional: Any, people: tuple[Person, ...]) -> str:
    """A framework, a mathematics campaign and its results (the first person weak in WEAK): the campaign's id."""
    m = gen.models
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
    results = m.CampaignsUploadResultsJsonBody.from_dict(
        {
            "rows": [
                {"external_id": p.external_id, "items": items_obj(scores_with(WEAK if p is people[0] else {"M1"}))}
                for p in people
            ]
        }
    )
    uploaded = await gen.op("campaigns-upload_results").asyncio_detailed(
        campaign_id=created.id, client=service, body=results, idempotency_key=uuid.uuid4().hex
    )
    assert uploaded.status_code in (HTTPStatus.OK, HTTPStatus.CREATED), uploaded.content[:500]
    return str(created.id)


async def generated_route(gen: Generated, regional: Any, teacher_id: str) -> Any:
    """The teacher's route, generated from the assessment change feed in the background (within 30 s)."""
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        page = await gen.op("routes-list_routes").asyncio(client=regional, teacher_id=uuid.UUID(teacher_id), limit=10)
        assert isinstance(page, gen.models.RoutePage), page
        if page.items:
            return page.items[0]
        await asyncio.sleep(0.2)
    raise AssertionError("no route was generated within 30s")


def clients_of(gen: Generated, base_url: str, who: Person, teacher_id: str) -> dict[str, Any]:
    """The people around the teacher's route: the municipal methodologist, the school deputy, the teacher."""
    return {
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
            teacher_id=teacher_id,
        ),
    }


async def walk(gen: Generated, base_url: str, people: tuple[Person, ...] = DEFAULT_PEOPLE) -> Outcome:
    m = gen.models
    out = Outcome()
    service = gen.client(base_url, Role.service, region=REGION)
    regional = gen.client(base_url, Role.regional_specialist, region=REGION)
    who = people[0]

    out.teacher_ids = await register(gen, service, people)
    out.campaign_id = await assess(gen, service, regional, people)
    route = await generated_route(gen, regional, out.teacher_ids[who.external_id])
    out.route_id = str(route.id)
    rid = route.id

    people_clients = {"regional": regional, **clients_of(gen, base_url, who, out.teacher_ids[who.external_id])}
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


# --- The regulation's authoring flow (issue 14 point 6) ----------------------------------------------------------

HOOK_EVENTS = ["route.generated", "route.status_changed"]
ACHIEVEMENTS = ["Призёр муниципального конкурса «Учитель года»"]
GOAL = {
    "problem": "Изменение способа оценивания образовательных результатов обучающихся 7 класса",
    "direction": "Педагогическое оценивание",
}
# A course of the map for the weak competency M3, with seats: the generated route offers it as a form.
COURSE = {
    "kind": "course",
    "title": "Формирующее оценивание на уроках математики",
    "description": "Критериальное оценивание, обратная связь, листы самооценки",
    "provider": "ЦНППМ",
    "hours": 36,
    "competencies": ["M3"],
    "subjects": ["mathematics"],
    "learning_type": "formal",
    "mode": "online",
    "capacity": 5,
}
REVIEW: list[tuple[str, str]] = [
    ("recommend", "regional"),
    ("send_to_municipality", "regional"),
    ("agree_with_school", "methodologist"),
    ("approve", "school"),
]


@dataclass
class Authored:
    """What people saw along the authoring walk, as the generated client's typed models."""

    route_id: str = ""
    teacher_id: str = ""
    tutor_id: str = ""
    subscription: Any = None  # WebhookCreated: the secret, shown once
    subscription_read: Any = None  # WebhookRead: the same subscription read again
    profile: Any = None  # ProfessionalProfile as the teacher wrote it
    picked: tuple[Any, Any] = (None, None)  # ConstructorFormulation, ConstructorResultForm of the constructor
    goal: Any = None  # the Goal the teacher added, with the task built from the constructor
    chosen: Any = None  # the Task whose form the teacher chose
    course_before: Any = None  # ResourceRead before the choice
    course_after: Any = None  # ResourceRead after it
    reservations: list[Any] = field(default_factory=list)  # ReservationRead of the route
    statuses: list[str] = field(default_factory=list)
    approved: Any = None  # RouteRead as the teacher reads it once approved
    events: list[Received] = field(default_factory=list)  # route.status_changed at the receiver
    generated_events: list[Received] = field(default_factory=list)
    deliveries: list[Any] = field(default_factory=list)  # DeliveryRead of the subscription, settled


def task_offering(route: Any, resource_id: str) -> Any:
    """The first task of the route offering this resource of the map as a form of work."""
    for goal in route.content.sections.goals:
        for task in goal.tasks or []:
            if any(f.resource_id == resource_id for f in task.forms or []):
                return task
    raise AssertionError(f"no task offers {resource_id}: {route.content.to_dict()}")


def task_by_id(route: Any, task_id: str) -> Any:
    return next(t for g in route.content.sections.goals for t in g.tasks or [] if t.id == task_id)


async def settled_deliveries(gen: Generated, client: Any, webhook_id: Any, expected: int) -> list[Any]:
    """The subscription's delivery log once `expected` deliveries exist and none is pending (within 30 s)."""
    deadline = asyncio.get_running_loop().time() + 30
    items: list[Any] = []
    while asyncio.get_running_loop().time() < deadline:
        page = expect(
            await gen.op("webhooks-list_webhook_deliveries").asyncio_detailed(
                webhook_id=webhook_id, client=client, limit=100
            ),
            200,
            "deliveries",
        )
        items = list(page.items)
        if len(items) >= expected and all(d.state != "pending" for d in items):
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"deliveries not settled: {[d.to_dict() for d in items]}")


async def walk_authoring(
    gen: Generated, base_url: str, receiver: Receiver, path: str = "/school", who: Person = DEFAULT_PEOPLE[0]
) -> Authored:
    """The school deputy subscribes the school's portal to route events; the teacher's route is generated; the
    teacher writes the professional profile, adds a goal with a task from the constructor and chooses a form
    (a seat is reserved); the route goes through review and the school approves it with a tutor (a teacher of
    the school, by id); the receiver gets every status change. Every call through the generated package."""
    m = gen.models
    out = Authored()
    service = gen.client(base_url, Role.service, region=REGION)
    regional = gen.client(base_url, Role.regional_specialist, region=REGION)
    ids = await register(gen, service, (who,))
    out.teacher_id, out.tutor_id = ids[who.external_id], ids[TUTOR.external_id]
    people = {"regional": regional, **clients_of(gen, base_url, who, out.teacher_id)}
    school, teacher = people["school"], people["teacher"]

    hook = m.WebhookCreate.from_dict(
        {"url": receiver.url(path), "events": HOOK_EVENTS, "description": "Портал школы: кабинет куратора"}
    )
    out.subscription = expect(
        await gen.op("webhooks-create_webhook").asyncio_detailed(client=school, body=hook), 201, "subscribe"
    )
    out.subscription_read = expect(
        await gen.op("webhooks-get_webhook").asyncio_detailed(webhook_id=out.subscription.id, client=school),
        200,
        "subscription read again",
    )
    course = expect(
        await gen.op("resources-create_resource").asyncio_detailed(
            client=regional, body=m.ResourceCreate.from_dict(COURSE)
        ),
        201,
        "course",
    )
    out.course_before = course

    await assess(gen, service, regional, (who,))
    rid = (await generated_route(gen, regional, out.teacher_id)).id
    out.route_id = str(rid)
    get_route = gen.op("routes-get_route")

    async def etag() -> str:
        read = await get_route.asyncio_detailed(route_id=rid, client=teacher)
        expect(read, 200, "the teacher reads the route")
        return str(read.headers["etag"])

    profile = m.ProfessionalProfileUpdate.from_dict({"achievements": ACHIEVEMENTS, "courses": [course_of_last_years()]})
    written = expect(
        await gen.op("authoring-write_professional_profile").asyncio_detailed(
            route_id=rid, client=teacher, body=profile, if_match=await etag()
        ),
        200,
        "professional profile",
    )
    out.profile = written.content.sections.professional_profile

    constructor = expect(await gen.op("authoring-read_constructor").asyncio_detailed(client=teacher), 200, "constr.")
    practice = next(k for k in constructor.kinds if k.kind == "practice_change")
    row = practice.rows[0]
    out.picked = (row.formulations[0], row.result_forms[0])
    with_goal = expect(
        await gen.op("authoring-add_goal").asyncio_detailed(
            route_id=rid, client=teacher, body=m.GoalCreate.from_dict(GOAL), if_match=await etag()
        ),
        200,
        "goal",
    )
    goal_id = next(g.id for g in with_goal.content.sections.goals if g.problem == GOAL["problem"])
    pick = {"row": row.row, "formulation": out.picked[0].index, "result_form": out.picked[1].index}
    with_task = expect(
        await gen.op("authoring-add_task").asyncio_detailed(
            route_id=rid,
            goal_id=goal_id,
            client=teacher,
            body=m.TaskCreate.from_dict({"kind": "practice_change", "constructor": pick}),
            if_match=await etag(),
        ),
        200,
        "task from the constructor",
    )
    out.goal = next(g for g in with_task.content.sections.goals if g.id == goal_id)

    offering = task_offering(with_task, str(course.id))
    chosen = expect(
        await gen.op("routes-update_task").asyncio_detailed(
            route_id=rid,
            task_id=offering.id,
            client=teacher,
            body=m.TaskUpdate.from_dict({"chosen_resource_id": str(course.id)}),
            if_match=await etag(),
        ),
        200,
        "choose a form",
    )
    out.chosen = task_by_id(chosen, offering.id)
    seats = expect(
        await gen.op("reservations-list_reservations").asyncio_detailed(client=teacher, route_id=rid), 200, "seats"
    )
    out.reservations = list(seats.items)
    out.course_after = expect(
        await gen.op("resources-get_resource").asyncio_detailed(resource_id=course.id, client=teacher), 200, "course"
    )

    transition = gen.op("routes-transition_route")
    for action, actor in REVIEW:
        client = people[actor]
        now = await get_route.asyncio_detailed(route_id=rid, client=client)
        expect(now, 200, f"read before {action}")
        extra = {"tutor": {"teacher_id": out.tutor_id}} if action == "approve" else {}
        moved = await transition.asyncio_detailed(
            route_id=rid,
            client=client,
            body=m.TransitionRequest.from_dict({"action": action, **extra}),
            if_match=now.headers["etag"],
        )
        out.statuses.append(str(expect(moved, 200, action).status))
    out.approved = expect(await get_route.asyncio_detailed(route_id=rid, client=teacher), 200, "approved route")

    out.events = await receiver.wait_for(path, "route.status_changed", len(REVIEW))
    out.deliveries = await settled_deliveries(gen, school, out.subscription.id, len(REVIEW) + 1)
    out.generated_events = receiver.of(path, "route.generated")
    for c in (service, *people.values()):
        await c.get_async_httpx_client().aclose()
    return out


def course_of_last_years() -> dict[str, Any]:
    """An advanced-training course of this year, as section 2 of the route lists it."""
    return {"title": "Формирующее оценивание", "hours": 36, "year": datetime.now(UTC).year, "provider": "ЦНППМ"}


def describe(outcome: Outcome) -> str:
    return json.dumps(
        {k: v for k, v in outcome.__dict__.items() if k not in ("export_rows", "problem")},
        ensure_ascii=False,
        default=str,
    )[:2000]
