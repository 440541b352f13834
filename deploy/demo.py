"""The demo region: a few municipalities, schools and teachers, loaded through the gateway."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kit.auth import Principal, Role, TokenCodec
from kit.settings import CommonSettings

REGION = "r-demo"
MUNICIPALITIES = [
    ("mo-sever", "Городской округ Северный"),
    ("mo-yug", "Южный муниципальный район"),
    ("mo-zarechye", "Городской округ Заречье"),
    ("mo-lesnoy", "Лесной муниципальный округ"),
]
SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Волков",
    "Соловьёв",
    "Васильев",
    "Зайцев",
    "Павлов",
    "Семёнов",
    "Голубев",
    "Виноградов",
    "Богданов",
]
MALE = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил"]
FEMALE = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Юлия"]
PATRONYMIC_ROOTS = ["Александров", "Дмитриев", "Сергеев", "Андреев", "Петров", "Николаев", "Викторов"]
SUBJECTS = [
    "russian",
    "literature",
    "mathematics",
    "informatics",
    "history",
    "physics",
    "chemistry",
    "biology",
    "geography",
    "english",
    "primary",
]
SUBJECT_POSITION = {
    "russian": "учитель русского языка и литературы",
    "literature": "учитель литературы",
    "mathematics": "учитель математики",
    "informatics": "учитель информатики",
    "history": "учитель истории",
    "physics": "учитель физики",
    "chemistry": "учитель химии",
    "biology": "учитель биологии",
    "geography": "учитель географии",
    "english": "учитель английского языка",
    "primary": "учитель начальных классов",
}


def _person(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    root = rng.choice(PATRONYMIC_ROOTS)
    if rng.random() < 0.75:  # most teachers are women
        return f"{surname}а {rng.choice(FEMALE)} {root}на"
    return f"{surname} {rng.choice(MALE)} {root}ич"


def region_data(schools_per_municipality: int = 3, teachers_per_school: int = 6) -> dict[str, Any]:
    """Deterministic demo data (same every time)."""
    rng = random.Random(2026)
    municipalities = [{"code": c, "name": n, "region": REGION} for c, n in MUNICIPALITIES]
    organisations, teachers = [], []
    n = 0
    for mi, (mcode, _) in enumerate(MUNICIPALITIES, start=1):
        for si in range(1, schools_per_municipality + 1):
            ocode = f"oo-{mi:02d}{si:02d}"
            organisations.append({"code": ocode, "name": f"МБОУ СОШ № {mi * 10 + si}", "municipality": mcode})
            for _ in range(teachers_per_school):
                n += 1
                subject = rng.choice(SUBJECTS)
                subjects = [subject] + (["literature"] if subject == "russian" else [])
                teachers.append(
                    {
                        "external_id": f"demo-{n:05d}",
                        "full_name": _person(rng),
                        "municipality": mcode,
                        "organisation": ocode,
                        "position": SUBJECT_POSITION[subject],
                        "subjects": subjects,
                        "qualification_category": rng.choice(["none", "conformity", "first", "highest"]),
                        "experience_years": rng.randint(0, 35),
                    }
                )
    return {"municipalities": municipalities, "organisations": organisations, "teachers": teachers}


def _call(
    gateway: str, token: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gateway + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:  # say what the API said (problem+json) instead of a bare status
        raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')[:2000]}") from None


FRAMEWORK_FILE = Path(__file__).resolve().parent.parent / "services/assessment/data/default_framework.json"
# (name, source, subject or None for "each remaining subject", date, instrument)
CAMPAIGNS = [
    ("ФИОКО 2025: учителя математики", "fioko_subject", "mathematics", "2025-04-16", "oku-omk-mathematics"),
    ("ФИОКО 2026: учителя математики", "fioko_subject", "mathematics", "2026-04-15", "oku-omk-mathematics"),
    ("ИКУ 2026: учителя русского языка", "regional_iku", "russian", "2026-03-12", "oku-omk-russian"),
    ("ФИОКО ОМК 2026: методические компетенции", "fioko_methodological", None, "2026-02-10", "omk"),
]


def skills(teachers: list[dict[str, Any]], rng: random.Random | None = None) -> dict[str, float]:
    """Each demo teacher's skill (0..1) behind their scores in `intake_data` (its first draws)."""
    rng = rng or random.Random(2027)
    return {t["external_id"]: rng.random() for t in teachers}


def intake_data(teachers: list[dict[str, Any]], framework: dict[str, Any]) -> list[dict[str, Any]]:
    """Campaigns with deterministic item scores for every demo teacher (by their first subject)."""
    rng = random.Random(2027)
    instruments = {i["code"]: i for i in framework["instruments"]}
    skill = skills(teachers, rng)
    out = []
    for name, source, subject, day, instrument in CAMPAIGNS:
        subjects = (
            [subject] if subject else sorted({t["subjects"][0] for t in teachers} - {c[2] for c in CAMPAIGNS if c[2]})
        )
        for subj in subjects:
            rows = []
            for t in teachers:
                if t["subjects"][0] != subj:
                    continue
                # Later campaigns go a little better: dynamics and "closed deficits" show up in the demo.
                lift = 0.15 if day.startswith("2026") else 0.0
                items = {}
                for it in instruments[instrument]["items"]:
                    p = min(1.0, max(0.0, rng.gauss(0.15 + skill[t["external_id"]] * 0.7 + lift, 0.25)))
                    items[it["code"]] = round(p * it["max_points"])
                rows.append({"external_id": t["external_id"], "items": items})
            if rows:
                label = name if subject else f"{name} ({SUBJECT_POSITION[subj]})"
                out.append(
                    {
                        "campaign": {
                            "name": label,
                            "source": source,
                            "subject": subj,
                            "assessed_on": day,
                            "framework_code": framework["code"],
                            "instrument": instrument,
                        },
                        "rows": rows,
                    }
                )
    return out


def load_intake(gateway: str, token: str, teachers: list[dict[str, Any]]) -> None:
    """Load the default framework, the demo campaigns and their results (once: when no framework exists)."""
    if _call(gateway, token, "GET", "/api/v1/frameworks"):
        return
    framework = json.loads(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    _call(gateway, token, "POST", "/api/v1/frameworks", framework)
    for i, c in enumerate(intake_data(teachers, framework)):
        campaign = _call(gateway, token, "POST", "/api/v1/campaigns", c["campaign"])
        _call(
            gateway,
            token,
            "POST",
            f"/api/v1/campaigns/{campaign['id']}/results",
            {"rows": c["rows"]},
            headers={"Idempotency-Key": f"demo-intake-{i}"},
        )


def catalogue(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A small resource map: a course, an event and a community per methodological area, subject
    courses, and methodists among the strongest demo teachers (deterministic)."""
    muns = [m["code"] for m in data["municipalities"]]
    areas = {
        "M1": "Планирование урока на вариативных формах организации",
        "M2": "Современные образовательные технологии: проектное и проблемное обучение",
        "M3": "Формирующее оценивание и объективные инструменты оценки",
        "M4": "Профессиональные обучающиеся сообщества: совместное решение задач",
    }
    resources: list[dict[str, Any]] = []
    for i, (code, title) in enumerate(areas.items()):
        resources += [
            {
                "kind": "course",
                "title": f"Курс ПК «{title}»",
                "provider": "ЦНППМ",
                "hours": 36,
                "federal_registry": i % 2 == 0,
                "competencies": [code],
                "subjects": [],
                "levels": [1, 2],
                "learning_type": "formal",
                "mode": "online",
                "municipalities": [],
                "starts_on": "2026-12-01",
                "ends_on": "2027-02-28",
                "capacity": 60,
            },
            {
                "kind": "event",
                "event_format": "seminar",
                "title": f"Семинар-практикум: {title.lower()}",
                "provider": "ММС",
                "competencies": [code],
                "subjects": [],
                "levels": [],
                "learning_type": "non_formal",
                "mode": "in_person",
                "municipalities": [muns[i % len(muns)]],
                "starts_on": "2027-01-20",
                "ends_on": "2027-01-20",
                "capacity": 30,
            },
            {
                "kind": "community",
                "title": f"Сетевое сообщество «{title}»",
                "provider": "ЦНППМ",
                "competencies": [code],
                "subjects": [],
                "levels": [],
                "learning_type": "informal",
                "mode": "online",
                "municipalities": [],
            },
        ]
    for subject, codes, label in (
        ("mathematics", ["MA1", "MA2", "MA3", "MA4"], "математике"),
        ("russian", ["RU1", "RU2", "RU3", "RU4"], "русскому языку"),
    ):
        resources.append(
            {
                "kind": "course",
                "title": f"Курс ПК «Трудные темы ЕГЭ и ОГЭ по {label}»",
                "provider": "ЦНППМ",
                "hours": 72,
                "competencies": codes,
                "subjects": [subject],
                "levels": [],
                "learning_type": "formal",
                "mode": "mixed",
                "municipalities": [],
                "starts_on": "2026-12-07",
                "ends_on": "2027-03-31",
                "capacity": 40,
            }
        )
    # The regional methodological active: for every subject taught in the demo, a strong teacher of it (by the
    # results the demo loads; the highest or first category preferred), working in person and online, so every
    # group-1 route can get a mentor of its subject; one teacher may serve two subjects.
    skill = skills(data["teachers"])
    mentors_by_teacher: dict[str, dict[str, Any]] = {}
    for subject in sorted({s for t in data["teachers"] for s in t["subjects"]}):
        pool = [t for t in data["teachers"] if subject in t["subjects"] and skill[t["external_id"]] >= 0.5]
        if not pool:
            continue
        best = max(pool, key=lambda t: (t["qualification_category"] in ("highest", "first"), skill[t["external_id"]]))
        entry = mentors_by_teacher.setdefault(
            best["external_id"],
            {"external_id": best["external_id"], "municipality": best["municipality"], "subjects": []},
        )
        entry["subjects"].append(subject)
    mentors = list(mentors_by_teacher.values())
    return resources, mentors


def load_catalogue(gateway: str, token: str, data: dict[str, Any]) -> None:
    """Load the demo resource map once (when it is empty), before the results, so routes get forms."""
    if _call(gateway, token, "GET", "/api/v1/resources?limit=1").get("items"):
        return
    resources, mentors = catalogue(data)
    for r in resources:
        _call(gateway, token, "POST", "/api/v1/resources", r)
    for m in mentors:
        teacher = _call(gateway, token, "GET", f"/api/v1/teachers/by-external-id/{m['external_id']}")
        _call(
            gateway,
            token,
            "POST",
            "/api/v1/mentors",
            {
                "teacher_id": teacher["id"],
                "municipality": m["municipality"],
                "role": "methodist",
                "subjects": m["subjects"],
                "competencies": ["M1", "M2", "M3", "M4"],
                "level": 4,
                "mode": "mixed",
                "capacity": 4,
                "joined_year": 2025,
                "joined_assessment": "fioko-2025",
            },
        )


def load_if_empty(gateway: str) -> dict[str, str]:
    """Load the demo region unless municipalities exist; return a development token per role."""
    codec = TokenCodec(CommonSettings())
    service = codec.encode(Principal(sub="demo-loader", role=Role.service, region=REGION), ttl_seconds=600)
    data = region_data()
    if not _call(gateway, service, "GET", "/api/v1/municipalities"):
        _call(gateway, service, "PUT", "/api/v1/municipalities", data["municipalities"])
        _call(gateway, service, "PUT", "/api/v1/organisations", data["organisations"])
        _call(gateway, service, "POST", "/api/v1/teachers/bulk", {"teachers": data["teachers"]})
    load_catalogue(gateway, service, data)
    load_intake(gateway, service, data["teachers"])
    first = data["teachers"][0]
    teacher = _call(gateway, service, "GET", f"/api/v1/teachers/by-external-id/{first['external_id']}")
    ttl = 8 * 3600
    principals = {
        "regional_specialist": Principal(sub="demo-regional", role=Role.regional_specialist, region=REGION),
        "municipal_methodologist": Principal(
            sub="demo-methodologist",
            role=Role.municipal_methodologist,
            region=REGION,
            municipality=first["municipality"],
        ),
        "school_admin": Principal(
            sub="demo-school",
            role=Role.school_admin,
            region=REGION,
            municipality=first["municipality"],
            organisation=first["organisation"],
        ),
        "teacher": Principal(
            sub=f"teacher:{teacher['id']}",
            role=Role.teacher,
            region=REGION,
            municipality=first["municipality"],
            organisation=first["organisation"],
            teacher_id=str(teacher["id"]),
        ),
        "admin": Principal(sub="demo-admin", role=Role.admin, region=REGION),
    }
    return {role: codec.encode(p, ttl_seconds=ttl) for role, p in principals.items()}
