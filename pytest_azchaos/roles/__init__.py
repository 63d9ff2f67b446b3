"""What each role of the region needs: its containers' command, environment and files, and readiness.

One module per role; :data:`ROLES` maps a role name to its :class:`Role`.
"""

from __future__ import annotations

from .app import AppRole
from .base import Role
from .db import DbEndpointRole, DbRole
from .etcd import EtcdRole
from .lb import LbRole
from .s3 import S3Role
from .toxiproxy import ToxiproxyRole

ROLES: dict[str, Role] = {
    role.name: role
    for role in (EtcdRole(), DbRole(), DbEndpointRole(), S3Role(), ToxiproxyRole(), AppRole(), LbRole())
}

__all__ = ["ROLES", "Role"]
