from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.stack import aptsources
from pytest_azchaos.stack.aptsources import Source

ONE_LINE = """\
# the archive
deb [signed-by=/usr/share/keyrings/debian.gpg] http://mirror.example/debian/ bookworm main contrib  # trailing
deb-src http://mirror.example/debian bookworm main
# deb http://commented.example/debian bookworm main
deb http://mirror.example/debian-security bookworm-security main
"""

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# security updates
Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm

Types: deb-src
URIs: http://source.example/debian
Suites: bookworm
"""


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZCHAOS_DEBIAN_MIRROR", raising=False)


def apt_dir(tmp_path: Path, one_line: str = "", deb822: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(one_line)
    if deb822:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(deb822)
    return tmp_path


def test_one_line_format() -> None:
    assert aptsources.parse_one_line(ONE_LINE) == [
        Source("http://mirror.example/debian", ("bookworm",)),
        Source("http://mirror.example/debian-security", ("bookworm-security",)),
    ]


def test_deb822_format_skips_disabled_and_source_stanzas() -> None:
    assert aptsources.parse_deb822(DEB822) == [
        Source("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        Source("http://mirror.example/debian-security", ("bookworm-security",)),
    ]


def test_mirror_is_the_archive_not_security(tmp_path: Path) -> None:
    assert aptsources.debian_mirror("bookworm", apt_dir(tmp_path, deb822=DEB822)) == "http://mirror.example/debian"


def test_mirror_from_the_one_line_format(tmp_path: Path) -> None:
    assert aptsources.debian_mirror("bookworm", apt_dir(tmp_path, ONE_LINE)) == "http://mirror.example/debian"


def test_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZCHAOS_DEBIAN_MIRROR", "http://other.example/debian/")
    assert aptsources.debian_mirror("bookworm", apt_dir(tmp_path, deb822=DEB822)) == "http://other.example/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Debian mirror for 'bookworm'.*AZCHAOS_DEBIAN_MIRROR"):
        aptsources.debian_mirror("bookworm", apt_dir(tmp_path, "deb http://x.example/ubuntu jammy main\n"))


def test_no_apt_configuration_at_all(tmp_path: Path) -> None:
    assert aptsources.configured_sources(tmp_path / "absent") == []
    with pytest.raises(ConfigError, match="no Debian mirror"):
        aptsources.debian_mirror("bookworm", tmp_path / "absent")


def test_sources_list_includes_updates_and_security(tmp_path: Path) -> None:
    text = aptsources.sources_list("bookworm", "http://mirror.example/debian", apt_dir(tmp_path, deb822=DEB822))
    assert text.splitlines() == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    ]


def test_sources_list_without_a_security_source(tmp_path: Path) -> None:
    text = aptsources.sources_list("bookworm", "http://mirror.example/debian", apt_dir(tmp_path))
    assert text.splitlines() == [
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
    ]


@pytest.mark.parametrize("options", ["[arch=amd64 signed-by=/k.gpg]", "[ signed-by=/k.gpg ]"])
def test_one_line_options_with_spaces(options: str) -> None:
    line = f"deb {options} http://mirror.example/debian bookworm main\n"
    assert aptsources.parse_one_line(line) == [Source("http://mirror.example/debian", ("bookworm",))]


@pytest.mark.parametrize("value", ["No", "false"])
def test_deb822_enabled_is_a_boolean(value: str) -> None:
    stanza = f"Types: deb\nEnabled: {value}\nURIs: http://x.example/debian\nSuites: bookworm\n"
    assert aptsources.parse_deb822(stanza) == []


def test_another_debian_suite_comes_from_the_configured_debian_mirror(tmp_path: Path) -> None:
    # a bookworm host builds a trixie base (the LocalStack image) from its own mirror
    assert aptsources.debian_mirror("trixie", apt_dir(tmp_path, deb822=DEB822)) == "http://mirror.example/debian"
    (tmp_path / "u").mkdir()
    with pytest.raises(ConfigError, match="no Debian mirror for 'trixie'"):
        aptsources.debian_mirror("trixie", apt_dir(tmp_path / "u", "deb http://x.example/ubuntu jammy main\n"))
