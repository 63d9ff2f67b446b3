"""The roles of the region, one module each; :data:`ROLES` maps a role name to its :class:`Role`.

Adding a service to the engine is a module here and one line in this registry.
"""

from __future__ import annotations

from .app import AppRole
from .base import Reconfiguration, Role
from .db import DbEndpointRole, DbRole
from .etcd import EtcdRole
from .lb import LbRole
from .localstack import LocalStackRole
from .s3 import S3Role
from .toxiproxy import RegionalToxiproxyRole, ToxiproxyRole

ROLES: dict[str, Role] = {
    role.name: role
    for role in (EtcdRole(), DbRole(), DbEndpointRole(), S3Role(), ToxiproxyRole(), RegionalToxiproxyRole(), AppRole(),
                 LbRole(), LocalStackRole())
}
#: the roles an environment file may name (the others come along with one of them)
DECLARED = tuple(name for name in ROLES if not any(name in r.companions for r in ROLES.values()))

__all__ = ["DECLARED", "ROLES", "Reconfiguration", "Role"]
