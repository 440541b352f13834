"""Who may do what in the routes service: typed permissions for the routers (403 when the role may not).

Every role may list and read routes; the scope of the caller decides which (404 outside it). Who may
move a route along its lifecycle is the data of services.routes.workflow (TRANSITIONS), checked in
services.routes.service.lifecycle, so that a refused step answers "transition-forbidden"."""

from __future__ import annotations

from typing import Annotated

from kit.auth import Principal, Role, require_roles

# People edit and score routes; services (the feed, the audit service) never do.
PEOPLE = tuple(role for role in Role if role != Role.service)

# The monthly exports are for the municipal services and the regional centre.
Exporter = Annotated[
    Principal,
    require_roles(
        Role.municipal_methodologist,
        Role.regional_specialist,
        Role.admin,
        Role.service,
        action="просматривать ежемесячные выгрузки: они для муниципальных служб и регионального центра",
    ),
]

# The personal cabinet: a teacher's own routes.
RouteOwner = Annotated[
    Principal,
    require_roles(Role.teacher, action="просматривать свои маршруты: собственные маршруты есть только у педагога"),
]

# Counts and per-route outcomes feed the KPIs and the effectiveness analysis.
Analyst = Annotated[
    Principal,
    require_roles(
        Role.municipal_methodologist,
        Role.regional_specialist,
        Role.admin,
        Role.service,
        action="просматривать статистику и итоги маршрутов: они для муниципальных и региональных специалистов",
    ),
]

# Route statistics also answer the school deputy, within their school (the school's workspace).
StatsReader = Annotated[
    Principal,
    require_roles(
        Role.school_admin,
        Role.municipal_methodologist,
        Role.regional_specialist,
        Role.admin,
        Role.service,
        action="просматривать статистику маршрутов: она для школы, муниципальных и региональных специалистов",
    ),
]

Generator = Annotated[
    Principal,
    require_roles(
        Role.regional_specialist,
        Role.admin,
        Role.service,
        Role.municipal_methodologist,
        action="формировать маршруты: это делает региональный центр или муниципальная служба",
    ),
]

# The audit service reports a finished audit of a route.
AuditRecorder = Annotated[
    Principal, require_roles(Role.service, action="отмечать аудит маршрутов: это делает только сервис аудита")
]

RequestWriter = Annotated[
    Principal,
    require_roles(
        Role.teacher,
        Role.school_admin,
        action="писать профессиональный запрос: его пишет педагог или заместитель руководителя школы за него",
    ),
]

# Authoring by the regulation (steps 1-3): the teacher, or the school deputy for a teacher of the school.
Author = Annotated[
    Principal,
    require_roles(
        Role.teacher,
        Role.school_admin,
        action="составлять маршрут: его составляет педагог или заместитель руководителя школы за педагога школы",
    ),
]

# Reflection follows the audit (step 10): the teacher writes it.
ReflectionWriter = Annotated[Principal, require_roles(Role.teacher, action="писать рефлексию: её пишет сам педагог")]

# Control-point results (step 7): the route's tutor (a teacher of the school), the school or the administrator;
# which teacher is the tutor is services.routes.tutors.
ControlPointChecker = Annotated[
    Principal,
    require_roles(
        Role.teacher,
        Role.school_admin,
        Role.admin,
        action="отмечать результаты контрольных точек: это делают тьютор и заместитель руководителя школы",
    ),
]

Recommender = Annotated[
    Principal,
    require_roles(
        Role.regional_specialist,
        Role.municipal_methodologist,
        Role.admin,
        action="добавлять рекомендации: их дают региональный центр и муниципальная служба",
    ),
]

Editor = Annotated[Principal, require_roles(*PEOPLE, action="изменять маршруты: это делают люди, а не сервисы")]

SelfCheckScorer = Annotated[
    Principal, require_roles(*PEOPLE, action="оценивать маршруты: это делают люди, а не сервисы")
]

# Webhook subscriptions of a territory: the region's, a municipality's or a school's own.
WebhookKeeper = Annotated[
    Principal,
    require_roles(
        Role.regional_specialist,
        Role.admin,
        Role.municipal_methodologist,
        Role.school_admin,
        action="управлять подписками на уведомления: это делают регион, муниципальная служба и школа",
    ),
]
