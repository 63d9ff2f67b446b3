"""The azchaos command's argument handling, without a Docker engine."""

from __future__ import annotations

import pytest

from pytest_azchaos import cli


def test_bad_usage_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["fault", "toxic", "a/app->db", "no-such-toxic"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'no-such-toxic'" in err
    assert "(see 'azchaos fault toxic --help')" in err


def test_a_negative_duration_reaches_the_duration_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._joined_values(["fault", "outage", "a", "--for", "-5s"]) == ["fault", "outage", "a", "--for=-5s"]
    assert cli._joined_values(["fault", "outage", "a", "--for", "5s"]) == ["fault", "outage", "a", "--for", "5s"]
    assert cli._parser().parse_args(["fault", "outage", "a", "--for", "5s"]).for_ == "5s"
    with pytest.raises(SystemExit):  # checked while parsing: before any stack is looked for
        cli._parser().parse_args(cli._joined_values(["fault", "outage", "a", "--for", "-5s"]))
    assert "argument --for: --for: expected a duration like '10s'" in capsys.readouterr().err


def test_version_names_the_package_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_azchaos import __version__

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"azchaos {__version__} (pytest-azchaos)\n"


def test_the_version_said_is_the_version_installed() -> None:
    from importlib.metadata import version

    from pytest_azchaos import __version__

    assert __version__ == version("pytest-azchaos"), "pyproject.toml and pytest_azchaos/__init__.py disagree"
