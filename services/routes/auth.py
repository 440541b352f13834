"""Who may do what in the routes service: typed permissions for the routers (403 when the role may not)."""

from __future__ import annotations

from typing import Annotated

from kit.auth import Principal, Role, require_roles

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
