"""Read the Debian mirror this machine's apt is configured with, at run time.

The offline base image is debootstrapped from the same mirror the host uses, so
no mirror host is ever written into the project.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

APT_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]


def parse_one_line(text: str) -> list[Source]:
    """Parse the classic ``deb URI SUITE COMPONENTS`` format."""
    sources = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # drop [options ...]
        if len(words) >= 3 and words[0] == "deb":
            sources.append(Source(words[1].rstrip("/"), (words[2],)))
    return sources


def parse_deb822(text: str) -> list[Source]:
    """Parse the ``Types: deb`` / ``URIs:`` / ``Suites:`` stanza format."""
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        enabled = fields.get("enabled", "yes").lower() not in ("no", "false", "off", "0")
        if "deb" in fields.get("types", "").split() and enabled:
            suites = tuple(fields.get("suites", "").split())
            for uri in fields.get("uris", "").split():
                sources.append(Source(uri.rstrip("/"), suites))
    return sources


def configured_sources(apt_dir: Path = APT_DIR) -> list[Source]:
    """Return every ``deb`` source of the machine's apt configuration."""
    sources: list[Source] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        sources += parse_one_line(main.read_text(errors="replace"))
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                sources += parse_one_line(path.read_text(errors="replace"))
            elif path.suffix == ".sources":
                sources += parse_deb822(path.read_text(errors="replace"))
    return sources


#: Debian's suites, by codename: a mirror configured for one of them serves the others
DEBIAN_SUITES = ("bullseye", "bookworm", "trixie", "forky", "sid")


def debian_mirror(suite: str, apt_dir: Path = APT_DIR) -> str:
    """Return the Debian archive URI apt uses for ``suite`` (AZCHAOS_DEBIAN_MIRROR overrides)."""
    override = os.environ.get("AZCHAOS_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    archives = [source for source in configured_sources(apt_dir) if not source.uri.endswith("-security")]
    for source in archives:
        if suite in source.suites:
            return source.uri
    for source in archives:  # a Debian archive serves every suite: trixie from a bookworm host's mirror
        if any(name.partition("-")[0] in DEBIAN_SUITES for name in source.suites):
            return source.uri
    raise ConfigError(
        f"no Debian mirror for {suite!r} in {apt_dir}/sources.list(.d); "
        "set AZCHAOS_DEBIAN_MIRROR to a Debian archive URL"
    )


def security_mirror(suite: str, apt_dir: Path = APT_DIR) -> str | None:
    """Return the security archive URI apt uses for ``suite``, if any."""
    for source in configured_sources(apt_dir):
        if f"{suite}-security" in source.suites:
            return source.uri
    return None


def sources_list(suite: str, mirror: str, apt_dir: Path = APT_DIR) -> str:
    """Return the sources.list for an image: the mirror, its updates, and security if known."""
    lines = [f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
    security = security_mirror(suite, apt_dir)
    if security:
        lines.append(f"deb {security} {suite}-security main")
    return "\n".join(lines) + "\n"
