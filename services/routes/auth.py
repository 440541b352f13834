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
        action="read the monthly exports (they are for the municipal services and the centre)",
    ),
]

# The personal cabinet: a teacher's own routes.
RouteOwner = Annotated[Principal, require_roles(Role.teacher, action="list own routes (only a teacher has own routes)")]

# Counts and per-route outcomes feed the KPIs and the effectiveness analysis.
Analyst = Annotated[
    Principal,
    require_roles(
        Role.municipal_methodologist,
        Role.regional_specialist,
        Role.admin,
        Role.service,
        action="read route statistics or outcomes (they are for municipal and regional roles)",
    ),
]

Generator = Annotated[
    Principal,
    require_roles(
        Role.regional_specialist,
        Role.admin,
        Role.service,
        Role.municipal_methodologist,
        action="generate routes (the centre or the municipal service does)",
    ),
]

# The audit service reports a finished audit of a route.
AuditRecorder = Annotated[
    Principal, require_roles(Role.service, action="mark routes audited (only the audit service does)")
]

RequestWriter = Annotated[
    Principal, require_roles(Role.teacher, action="write the professional request (the teacher writes it)")
]

Recommender = Annotated[
    Principal,
    require_roles(
        Role.regional_specialist,
        Role.municipal_methodologist,
        Role.admin,
        action="add recommendations (they come from the centre or the municipal service)",
    ),
]

Editor = Annotated[Principal, require_roles(*PEOPLE, action="edit routes (services do not)")]

SelfCheckScorer = Annotated[Principal, require_roles(*PEOPLE, action="score routes (services do not)")]
