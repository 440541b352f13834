"""Who may do what in the assessment service: typed permissions for the routers (403 when the role may not).

Scope is not decided here: an object outside the caller's scope is a 404 from the service layer.
"""

from __future__ import annotations

from typing import Annotated

from kit.auth import Principal, Role, require_roles

_REGIONAL = (Role.regional_specialist, Role.admin, Role.service)
_SCHOOLS_AND_UP = (*_REGIONAL, Role.municipal_methodologist, Role.school_admin)

# Frameworks and campaigns are the region's: its specialists and services manage them.
FrameworkManager = Annotated[Principal, require_roles(*_REGIONAL, action="управлять моделями компетенций")]
CampaignManager = Annotated[Principal, require_roles(*_REGIONAL, action="управлять кампаниями оценки")]
# The directory (municipalities, schools) is edited by the region only.
DirectoryEditor = Annotated[
    Principal, require_roles(*_REGIONAL, action="изменять справочник муниципалитетов и образовательных организаций")
]
# Schools, municipalities and the region keep the registry and send results (within their scope).
RegistryWriter = Annotated[Principal, require_roles(*_SCHOOLS_AND_UP, action="изменять реестр педагогов")]
ResultUploader = Annotated[Principal, require_roles(*_SCHOOLS_AND_UP, action="загружать результаты оценки")]
# Analytics are for schools, municipalities and the region: every role but a teacher.
Analyst = Annotated[
    Principal,
    require_roles(
        *(r for r in Role if r != Role.teacher),
        action="просматривать аналитику: она доступна школам, муниципалитетам и региону",
    ),
]
# The change feed carries registry fields of every teacher: services and regional roles only.
FeedReader = Annotated[
    Principal, require_roles(*_REGIONAL, action="читать ленту изменений: она доступна сервисам и специалистам региона")
]
# Depersonalising a teacher (152-FZ) and reading the log of it: administrators only.
Depersonaliser = Annotated[Principal, require_roles(Role.admin, action="обезличивать данные педагога")]
PersonalDataAuditor = Annotated[
    Principal, require_roles(Role.admin, action="просматривать журнал работы с персональными данными")
]
