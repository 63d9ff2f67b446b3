"""The engine: the declared region (topology), its roles, and the running stack on a backend.

Everything that knows a service lives in :mod:`pytest_azchaos.stack.roles`; the lifecycle in
:mod:`pytest_azchaos.stack.stack` asks the roles and never names one. See docs/architecture.md.
"""

from __future__ import annotations

from .model import Fact, Look, Measured, Member, Stamped
from .stack import Stack, new_run_id, plan

__all__ = ["Fact", "Look", "Measured", "Member", "Stack", "Stamped", "new_run_id", "plan"]
