"""Who may do what in the resources service: typed permissions for the routers (403 when the role may not).

Reading the resource map is open to every signed-in role (`kit.auth.CurrentPrincipal`); scope checks
(another region's object answers 404, a municipality's or teacher's own objects) stay in the service.
"""

from __future__ import annotations

from typing import Annotated

from kit.auth import REGIONAL_ROLES, Principal, Role, require_roles

_REGIONAL = sorted(REGIONAL_ROLES)

# Regional staff add anything, municipal services their municipality's resources, teachers their own peer resources.
ResourceAuthor = Annotated[
    Principal,
    require_roles(*_REGIONAL, Role.municipal_methodologist, Role.teacher, action="пополнять ресурсную карту"),
]
# Catalogue imports are for the regional centre and the municipal services (their local resources).
ResourceImporter = Annotated[
    Principal, require_roles(*_REGIONAL, Role.municipal_methodologist, action="импортировать ресурсы")
]
MentorImporter = Annotated[
    Principal, require_roles(*_REGIONAL, Role.municipal_methodologist, action="импортировать наставников")
]
# The methodological active is kept by the regional centre (all of it) and municipal services (their own).
MentorKeeper = Annotated[
    Principal,
    require_roles(*_REGIONAL, Role.municipal_methodologist, action="изменять состав методического актива"),
]
# The region-wide mentor assignment and the neighbour relation are the regional centre's.
RegionalAssigner = Annotated[
    Principal,
    require_roles(*_REGIONAL, action="распределять наставников по региону: это делает региональный центр"),
]
NeighbourKeeper = Annotated[
    Principal,
    require_roles(*_REGIONAL, action="изменять соседство муниципалитетов: его ведёт региональный центр"),
]
# Coverage is for the regional centre and the municipal services.
CoverageAnalyst = Annotated[
    Principal,
    require_roles(
        *_REGIONAL,
        Role.municipal_methodologist,
        action="просматривать обеспеченность ресурсами: она доступна региональному центру и муниципальным службам",
    ),
]
# Reservations are made for a route by the routes service and by staff in scope for the route's teacher;
# a teacher never reserves directly (one seat per made-up route id would empty the map). Releases alike.
Reserver = Annotated[
    Principal,
    require_roles(
        *_REGIONAL,
        Role.municipal_methodologist,
        Role.school_admin,
        action="бронировать и освобождать места и наставников: это делают сервис маршрутов и кураторы педагога",
    ),
]
# The methodological active (issue 15): the regional centre computes candidates, includes them by order, removes
# members and imports lists; every role reads it within its scope (municipality, school, own status).
ActiveKeeper = Annotated[
    Principal,
    require_roles(*_REGIONAL, action="вести региональный методический актив (его ведёт региональный центр)"),
]
# The picture a region reports of its active (issue 15 point 5) is the regional roles'.
ActiveReporter = Annotated[
    Principal,
    require_roles(
        *_REGIONAL, action="просматривать сводку по методическому активу региона: она для регионального центра"
    ),
]
