"""The exceptions pytest-azchaos raises.

Every error is an :class:`AzChaosError`; catch that to catch them all::

    AzChaosError
     +-- ConfigError          a bad environment file, option or argument
     +-- EngineError          no Docker engine answers
     +-- ImageBuildError      an image could not be built (which image, which step)
     +-- StackError           the stack could not be started, found or stopped
     +-- FaultError           a fault could not be injected or healed
     +-- NotSteady            the stack was not steady when a fault was due (not an SLO failure)
     +-- SLOViolation         a service-level objective was broken (an AssertionError too)
"""

from __future__ import annotations


class AzChaosError(Exception):
    """The root of every error pytest-azchaos raises."""


class ConfigError(AzChaosError):
    """A bad environment file, option or argument; nothing was started."""


class EngineError(AzChaosError):
    """No Docker engine answers."""


class ImageBuildError(AzChaosError):
    """An image could not be built."""

    def __init__(self, image: str, step: str, reason: str) -> None:
        super().__init__(f"building image {image!r} failed at {step}: {reason}")
        self.image = image
        self.step = step
        self.reason = reason


class StackError(AzChaosError):
    """The stack could not be started, found or stopped."""


class FaultError(AzChaosError):
    """A fault could not be injected or healed."""


class NotSteady(AzChaosError):
    """The stack was not in its steady state when a fault was due: the test proves nothing either way."""

    def __init__(self, reasons: list[str], detail: str) -> None:
        super().__init__(f"stack not steady: {detail}")
        self.reasons = reasons


class SLOViolation(AzChaosError, AssertionError):
    """A service-level objective was broken."""
