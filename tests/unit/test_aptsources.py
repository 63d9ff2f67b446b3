from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos import aptsources
from pytest_azchaos.errors import ConfigError

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
"""


def apt_dir(tmp_path: Path, one_line: str = "", deb822: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(one_line)
    if deb822:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(deb822)
    return tmp_path


def test_one_line_format() -> None:
    text = "# comment\ndeb [signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\ndeb-src http://x/ y main\n"
    assert aptsources.parse_one_line(text) == [aptsources.Source("http://mirror.example/debian", ("bookworm",))]


def test_deb822_skips_disabled_stanzas() -> None:
    uris = [s.uri for s in aptsources.parse_deb822(DEB822)]
    assert uris == ["http://mirror.example/debian", "http://mirror.example/debian-security"]


def test_mirror_is_the_archive_not_security(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZCHAOS_DEBIAN_MIRROR", raising=False)
    assert aptsources.debian_mirror("bookworm", apt_dir(tmp_path, deb822=DEB822)) == "http://mirror.example/debian"


def test_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZCHAOS_DEBIAN_MIRROR", "http://other.example/debian/")
    assert aptsources.debian_mirror("bookworm", apt_dir(tmp_path)) == "http://other.example/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZCHAOS_DEBIAN_MIRROR", raising=False)
    with pytest.raises(ConfigError, match="no Debian mirror for 'bookworm'.*AZCHAOS_DEBIAN_MIRROR"):
        aptsources.debian_mirror("bookworm", apt_dir(tmp_path, "deb http://x.example/ubuntu jammy main\n"))


def test_sources_list_includes_updates_and_security(tmp_path: Path) -> None:
    text = aptsources.sources_list("bookworm", "http://mirror.example/debian", apt_dir(tmp_path, deb822=DEB822))
    assert text.splitlines() == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    ]
