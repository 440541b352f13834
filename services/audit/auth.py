"""Who may do what in the audit service: typed permissions for the routers (403 when the role may not).

What part of the region a permitted caller sees is scope (scope.py): objects out of it answer 404.
"""

from __future__ import annotations

from typing import Annotated

from kit.auth import Principal, Role, require_roles

_AUDITORS = (Role.municipal_methodologist, Role.regional_specialist, Role.admin)
_ANALYSTS = (*_AUDITORS, Role.service)
_REGIONAL_WRITERS = (Role.regional_specialist, Role.admin, Role.service)

# --- route audit ---------------------------------------------------------------------------------
Auditor = Annotated[Principal, require_roles(*_AUDITORS, action="проводить аудит маршрутов")]
AuditReader = Annotated[
    Principal,
    require_roles(*_AUDITORS, Role.service, Role.school_admin, Role.teacher, action="просматривать результаты аудита"),
]
AuditStatsReader = Annotated[
    Principal, require_roles(*_AUDITORS, Role.service, Role.school_admin, action="просматривать статистику аудита")
]
DeliveryRetrier = Annotated[Principal, require_roles(*_AUDITORS, action="повторять передачу результатов аудита")]

# --- monitoring of municipalities ----------------------------------------------------------------
MonitoringRunner = Annotated[
    Principal, require_roles(*_REGIONAL_WRITERS, action="проводить мониторинг муниципалитетов")
]
ScoreLoader = Annotated[Principal, require_roles(*_REGIONAL_WRITERS, action="загружать баллы мониторинга")]
MonitoringReader = Annotated[Principal, require_roles(*_ANALYSTS, action="просматривать результаты мониторинга")]

# --- checklists of municipal documents -----------------------------------------------------------
ChecklistReader = Annotated[Principal, require_roles(*_ANALYSTS, action="просматривать чек-листы")]
ChecklistEditor = Annotated[Principal, require_roles(*_AUDITORS, action="изменять чек-листы")]

# --- KPIs and effectiveness ----------------------------------------------------------------------
Analyst = Annotated[Principal, require_roles(*_ANALYSTS, action="просматривать аналитику")]
# The KPIs also answer a school deputy, for their own school (scope.kpi_scope).
KpiReader = Annotated[Principal, require_roles(*_ANALYSTS, Role.school_admin, action="просматривать показатели")]
