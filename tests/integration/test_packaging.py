"""The wheel carries the whole region (issue 12): built from the checkout, installed into a fresh virtualenv
outside it, and used from an unrelated directory as a user's project would, with no checkout in sight.

One wheel and one virtualenv serve every test of this module. The build and the install need the package
index (setuptools; the plugin's dependencies); the images come from the engine's cache, or are built.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN, DockerBackend
from pytest_azchaos.stack.images import ImageSet, Recipe

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "pytest_azchaos" / "data"
RECIPES = DATA / "environments" / "images"
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "pytest_azchaos"]

USER_TEST = '''
import os

import pytest


@pytest.mark.slo(failed_requests=0)
def test_reads_flow_through_the_bundled_region(azchaos):
    with open("run-id", "w") as out:
        out.write(azchaos.stack.run_id)
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("3s")
    assert len(azchaos.history) >= 40, "the traffic ran"
    assert list(azchaos.stack.topology.azs) == os.environ["EXPECT_AZS"].split(",")
'''


@dataclass(frozen=True)
class Install:
    wheel: Path
    bin: Path  # the fresh virtualenv's bin/
    project: Path  # an unrelated directory: a user's project, with no checkout around it

    def run(self, *argv: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the virtualenv in the user's project, with none of the checkout's environment."""
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        return subprocess.run([str(self.bin / argv[0]), *argv[1:]], cwd=self.project, env=clean | env,
                              capture_output=True, text=True, timeout=timeout, check=False)


def build_wheel(tmp: Path) -> Path:
    src = tmp / "src"  # a copy: the build writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp / "dist")],
                   cwd=src, check=True, timeout=600)
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    tmp = tmp_path_factory.mktemp("wheel")
    assert not tmp.resolve().is_relative_to(ROOT), "the install must be outside the checkout"
    started = time.monotonic()
    wheel = build_wheel(tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=900)
    print(f"wheel built and installed in {time.monotonic() - started:.1f} s")
    (tmp / "project").mkdir()
    return Install(wheel, venv / "bin", tmp / "project")


def test_the_wheel_lists_every_recipe_and_nothing_else(install: Install) -> None:
    listing = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(install.wheel)],
                             capture_output=True, text=True, check=True).stdout
    listed = {line.split()[0] for line in listing.splitlines()[1:] if line.strip()}
    data = {f"pytest_azchaos/data/{p.relative_to(DATA).as_posix()}" for p in DATA.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    recipes = {p.name for p in RECIPES.iterdir() if p.is_dir()}
    assert {"debian", "nginx", "example-app", "etcd", "haproxy", "postgres-patroni", "minio",
            "toxiproxy"} <= recipes
    for recipe in sorted(recipes):
        assert f"pytest_azchaos/data/environments/images/{recipe}/recipe.yaml" in listed, f"recipe {recipe}"
    assert sorted(data - listed) == [], "files of pytest_azchaos/data/ missing from the wheel"
    assert sorted(n for n in listed if n.startswith("pytest_azchaos/data/") and n not in data) == []
    assert [n for n in listed if ".data/" in n] == [], "nothing installed outside the package (share/)"


def test_the_installed_plugin_reads_its_data_from_the_install(install: Install) -> None:
    probe = ("import pytest_azchaos, pytest_azchaos.resources as r; "
             "print(pytest_azchaos.__file__); print(r.environment_file('default')); "
             "print(r.data_root() / 'scripts' / 'ensure-docker.sh'); print(r.fixture('nginx/nginx.conf.template'))")
    done = install.run("python", "-c", probe, timeout=60)
    assert done.returncode == 0, done.stderr
    venv = install.bin.parent.resolve()
    for path in map(Path, done.stdout.split()):
        assert path.resolve().is_relative_to(venv), f"{path} is not in the wheel's install"
        assert path.is_file(), path
    engine = install.run("azchaos", "engine", "--check", timeout=60)
    assert engine.returncode == 0 and "Docker engine" in engine.stdout, engine.stderr


@pytest.mark.parametrize("env", ["default", "./region.yaml"])
def test_images_build_finds_every_recipe_from_an_unrelated_directory(
        install: Install, docker_client: docker.DockerClient, env: str) -> None:
    """By the bundled name, and from a user's own environment file with no images/ beside it."""
    shutil.copy(DATA / "environments" / "default.yaml", install.project / "region.yaml")
    done = install.run("azchaos", "images", "build", "--env", env, timeout=3600)
    assert done.returncode == 0, done.stderr
    built = dict(re.findall(r"^([\w-]+): (\S+)$", done.stdout, flags=re.MULTILINE))
    region = Stack(load(DATA / "environments" / "default.yaml"), run_id="wheel", backend=DockerBackend())
    needed = set(region.image_names().values())
    assert {"example-app", "nginx", "etcd", "postgres-patroni", "haproxy", "minio", "toxiproxy"} <= needed
    assert set(built) == needed, done.stdout
    checkout = ImageSet(RECIPES, client=docker_client, progress=lambda _: None)
    for name, ref in built.items():
        recipe = Recipe.load(RECIPES / name)
        assert ref in (recipe.official, checkout.tag(recipe)), f"{name}: {ref} is not the checkout's recipe"


def objects_of_run(client: docker.DockerClient, run_id: str) -> list[str]:
    """The containers, networks and volumes of one run (other runs on this host are not ours to count)."""
    selector = {"label": f"{LABEL_RUN}={run_id}"}
    found = [c["Names"][0] for c in client.api.containers(all=True, filters=selector)]
    found += [n.name for n in client.networks.list(filters=selector)]
    return found + [v.name for v in client.volumes.list(filters=selector)]


@pytest.mark.parametrize(("env", "azs"), [("minimal", "a,b"), ("default", "a,b,c")])
def test_a_users_test_runs_on_a_bundled_region(install: Install, docker_client: docker.DockerClient, env: str,
                                               azs: str) -> None:
    (install.project / "test_region.py").write_text(USER_TEST)
    (install.project / "run-id").unlink(missing_ok=True)
    done = install.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--azchaos-env={env}",
                       "test_region.py", timeout=900, EXPECT_AZS=azs)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    run_id = (install.project / "run-id").read_text()
    assert objects_of_run(docker_client, run_id) == [], f"run {run_id} left these behind"
