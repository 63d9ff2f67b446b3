"""Make sure every image a topology needs exists: use it, pull it, or build it offline.

A *recipe* is a folder of ``environments/images/`` with a ``recipe.yaml`` and
(except for the Debian base) a ``Dockerfile``. Recipes build offline, from the
machine's configured Debian mirror, the package index and Go source, so no
container registry is needed. Each built image is tagged by a hash of its
recipe (``azchaos/nginx:3f2a...``) and reused while the recipe is unchanged.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
import yaml

from .. import resources
from ..errors import ConfigError, ImageBuildError
from . import aptsources
from .backend import connect, engine_error

Progress = Callable[[str], None]
MODES = ("auto", "offline", "official")
PULL_TIMEOUT_S = 5.0
_RECIPE_KEYS = {"official", "base", "context", "debootstrap", "go_install", "go_patches", "pip_download",
                "pip_python", "description"}


@dataclass(frozen=True)
class Recipe:
    """One image recipe folder."""

    name: str
    folder: Path
    official: str | None
    base: str | None
    context: Path | None
    debootstrap: dict[str, Any] | None
    go_install: tuple[str, ...]
    pip_download: tuple[str, ...] = ()
    #: patch files of the recipe folder, applied (``git apply``) to each go_install module's source
    go_patches: tuple[str, ...] = ()
    #: the Python of the image ("3.13"), when it is not the host's: the wheels are for that one
    pip_python: str | None = None

    @classmethod
    def load(cls, folder: Path) -> Recipe:
        path = folder / "recipe.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        unknown = set(data) - _RECIPE_KEYS
        if unknown:
            raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected {sorted(_RECIPE_KEYS)}")
        debootstrap = data.get("debootstrap")
        if debootstrap is None and not (folder / "Dockerfile").is_file():
            raise ConfigError(f"{folder}: a recipe needs a Dockerfile (or a 'debootstrap' section)")
        context = data.get("context")
        return cls(
            name=folder.name,
            folder=folder,
            official=data.get("official"),
            base=None if debootstrap is not None else data.get("base", "debian"),
            context=(folder / context).resolve() if context else None,
            debootstrap=debootstrap,
            go_install=tuple(data.get("go_install") or ()),
            go_patches=_patches(folder, data.get("go_patches") or ()),
            pip_download=tuple(data.get("pip_download") or ()),
            pip_python=str(data["pip_python"]) if data.get("pip_python") else None,
        )

    def files(self) -> Iterator[tuple[str, Path]]:
        """Yield (name in the build context, file on disk), sorted, for hashing and building."""
        roots = [("", self.folder)] + ([("", self.context)] if self.context else [])
        seen: set[str] = set()
        for prefix, root in roots:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = prefix + path.relative_to(root).as_posix()
                if "__pycache__" in rel or rel in seen:
                    continue
                seen.add(rel)
                yield rel, path


class ImageSet:
    """Resolve image names of a topology to local image references, building what is missing.

    Example::

        images = ImageSet(Path("environments/images"), mode="auto")
        ref = images.ensure("nginx")   # 'azchaos/nginx:3f2a9c1d7e0b' or 'nginx:1.27-bookworm'
    """

    def __init__(
        self,
        recipes_dir: Path,
        *,
        mode: str = "auto",
        client: docker.DockerClient | None = None,
        progress: Progress = print,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"image mode {mode!r}: expected one of {', '.join(MODES)}")
        self.recipes_dir = recipes_dir
        # the environment's own recipes first, then the bundled ones: an environment file of a user's project
        # (no images/ beside it) still builds the region offline from an installed wheel
        self.search = tuple(dict.fromkeys(p.resolve() for p in (recipes_dir, resources.recipes_dir())))
        self.mode = mode
        self.client = client or connect()
        self.progress = progress
        self._resolved: dict[str, str] = {}
        self._registry_unreachable = False
        self._lock_depth = 0

    def recipe(self, name: str) -> Recipe | None:
        """Return the recipe called ``name``, or None if ``name`` is a plain image reference."""
        for root in self.search:
            if (root / name / "recipe.yaml").is_file():
                return Recipe.load(root / name)
        return None

    def tag(self, recipe: Recipe) -> str:
        """Return the content-addressed tag of a recipe's offline image."""
        digest = hashlib.sha256()
        if recipe.base:
            base = self.recipe(recipe.base)
            if base is None:
                raise ConfigError(f"{recipe.folder}/recipe.yaml: base recipe {recipe.base!r} not found")
            digest.update(self.tag(base).encode())
        for rel, path in recipe.files():
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        return f"azchaos/{recipe.name}:{digest.hexdigest()[:12]}"

    def ensure(self, name: str) -> str:
        """Return a local image reference for ``name``, pulling or building it if needed."""
        if name not in self._resolved:
            with self._locked():
                recipe = self.recipe(name)
                self._resolved[name] = (
                    self._ensure_recipe(recipe) if recipe else self._ensure_plain(name)
                )
        return self._resolved[name]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the inter-process build lock; re-entrant, since a build ensures its base."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with _build_lock():
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def _ensure_recipe(self, recipe: Recipe) -> str:
        offline = self.tag(recipe)
        official = recipe.official if self.mode != "offline" else None
        if official and self._exists(official):
            return official
        if self.mode != "official" and self._exists(offline):
            return offline
        if official and self._pull(official):
            return official
        if self.mode == "official":
            raise ImageBuildError(recipe.name, "pull", f"{official or 'no official image'} is not available")
        self.progress(f"building the offline image of recipe {recipe.name}")
        self._build(recipe, offline)
        return offline

    def _ensure_plain(self, ref: str) -> str:
        if self._exists(ref) or self._pull(ref):
            return ref
        known = self.recipe_names()
        folder = self.recipes_dir / ref
        if folder.is_dir():
            missing = f"the recipe folder {folder} has no recipe.yaml"
        elif "/" not in ref and ":" not in ref:
            missing = f"there is no recipe folder {folder}"
        else:
            missing = "no recipe has that name"
        raise ConfigError(
            f"image {ref!r} is neither present locally nor pullable, and {missing}; "
            f"build it first (docker build -t {ref} ...) or use a recipe: {', '.join(known) or '(none)'}"
        )

    def recipe_names(self) -> list[str]:
        """Return the names of the recipes: the environment's own and the bundled ones."""
        roots = [root for root in self.search if root.is_dir()]
        return sorted({p.name for root in roots for p in root.iterdir() if (p / "recipe.yaml").is_file()})

    def _exists(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise engine_error(f"looking up image {ref}", exc) from exc
        return True

    def _pull(self, ref: str) -> bool:
        """Try the registry for at most PULL_TIMEOUT_S; remember when it cannot be reached."""
        if self._registry_unreachable:
            return False
        self.progress(f"trying to pull {ref} (at most {PULL_TIMEOUT_S:.0f} s)")
        outcome: list[bool] = []

        def pull() -> None:
            try:
                self.client.images.pull(ref)
                outcome.append(True)
            except Exception:  # any failure (refused, timed out, engine gone) means "not pulled"
                outcome.append(False)

        worker = threading.Thread(target=pull, daemon=True)
        worker.start()
        worker.join(PULL_TIMEOUT_S)
        if outcome and outcome[0]:
            return True
        self._registry_unreachable = True
        self.progress(f"registry unreachable for {ref}; no more pulls")
        return False

    def _build(self, recipe: Recipe, tag: str) -> None:
        if recipe.base:
            self.ensure(recipe.base)
        self.progress(f"building image {recipe.name} ({tag})")
        if recipe.debootstrap is not None:
            _build_debootstrap(recipe, tag, self.client, self.progress)
        else:
            base_ref = self.tag(self.recipe(recipe.base)) if recipe.base else None  # type: ignore[arg-type]
            _build_dockerfile(recipe, tag, base_ref, self.client, self.progress)
        self.progress(f"built image {recipe.name} ({tag})")


@contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds between processes so two runs never build one image twice."""
    cache = Path(os.environ.get("AZCHAOS_CACHE_DIR", Path.home() / ".cache" / "azchaos"))
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_step(recipe: str, step: str, cmd: list[str], progress: Progress, **kw: Any) -> None:
    """Run a host command of a build, streaming its output as progress."""
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw
        )
    except FileNotFoundError:
        raise ImageBuildError(recipe, step, f"{cmd[0]!r} is not installed") from None
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = ([*tail, line.rstrip()])[-15:]
        if line.startswith(("I: Retrieving", "I: Installing", "I: Configuring", "go: downloading")):
            continue  # too chatty; the step lines below are enough
        progress(f"  {recipe}: {line.rstrip()}")
    if proc.wait() != 0:
        raise ImageBuildError(recipe, step, f"exit code {proc.returncode}; last output:\n" + "\n".join(tail))


def _build_debootstrap(recipe: Recipe, tag: str, client: docker.DockerClient, progress: Progress) -> None:
    spec = recipe.debootstrap or {}
    suite = str(spec.get("suite", "bookworm"))
    if os.geteuid() != 0:
        raise ImageBuildError(recipe.name, "debootstrap", "needs root (run as root, or pull the official images)")
    if shutil.which("debootstrap") is None:
        if shutil.which("apt-get") is None:
            raise ImageBuildError(recipe.name, "debootstrap", "debootstrap is not installed and there is no apt-get")
        _run_step(recipe.name, "apt-get update", ["apt-get", "update", "-q"], progress)
        _run_step(recipe.name, "install debootstrap", ["apt-get", "install", "-y", "-q", "debootstrap"], progress)
    mirror = aptsources.debian_mirror(suite)
    with tempfile.TemporaryDirectory(prefix="azchaos-rootfs-") as tmp:
        root = Path(tmp) / "root"
        include = ",".join(spec.get("include") or [])
        cmd = ["debootstrap", f"--variant={spec.get('variant', 'minbase')}"]
        cmd += [f"--include={include}"] if include else []
        progress(f"  {recipe.name}: debootstrap {suite} from {mirror} (a few minutes)")
        _run_step(recipe.name, "debootstrap", [*cmd, suite, str(root), mirror], progress)
        (root / "etc/apt/sources.list").write_text(aptsources.sources_list(suite, mirror))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(root / junk, ignore_errors=True)
            (root / junk).mkdir(parents=True, exist_ok=True)
        tarball = Path(tmp) / "rootfs.tar"
        _run_step(recipe.name, "pack rootfs", ["tar", "-C", str(root), "-cf", str(tarball), "."], progress)
        repo, _, version = tag.partition(":")
        try:
            client.api.import_image_from_file(
                str(tarball), repository=repo, tag=version, changes=['CMD ["bash"]']
            )
        except docker.errors.APIError as exc:
            raise ImageBuildError(recipe.name, "docker import", str(exc)) from None


def _patches(folder: Path, names: Any) -> tuple[str, ...]:
    """The recipe's ``go_patches``: files of its folder, checked when the recipe is read."""
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{folder / 'recipe.yaml'}: go_patches must be a list of patch files in {folder}")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"{folder / 'recipe.yaml'}: go_patches names files that are not in {folder}: {missing}")
    return tuple(names)


def _go_install(recipe: Recipe, bindir: Path, progress: Progress) -> None:
    if not recipe.go_install:
        return
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ImageBuildError(recipe.name, "go install", "Go is not installed (https://go.dev/dl/)")
    env = dict(os.environ, GOBIN=str(bindir), CGO_ENABLED="0")
    for module in recipe.go_install:
        if recipe.go_patches:
            _go_build_patched(recipe, module, go, bindir, env, progress)
            continue
        progress(f"  {recipe.name}: go install {module} (compiling from source)")
        _run_step(recipe.name, f"go install {module}", [go, "install", module], progress, env=env)


def _go_build_patched(recipe: Recipe, module: str, go: str, bindir: Path, env: dict[str, str],
                      progress: Progress) -> None:
    """What ``go install module@version`` does, with the recipe's patches applied to the source:
    download the module (the Go module proxy), copy it out of the read-only module cache, patch
    it, and build its main package into ``bindir`` under the module's last path element."""
    path = module.split("@", 1)[0]
    progress(f"  {recipe.name}: go mod download {module}")
    try:
        out = subprocess.run([go, "mod", "download", "-json", module], capture_output=True, text=True, env=env,
                             check=False)
    except OSError as exc:
        raise ImageBuildError(recipe.name, f"go mod download {module}", str(exc)) from None
    try:
        source = Path(json.loads(out.stdout)["Dir"]) if out.returncode == 0 else None
    except (ValueError, KeyError):
        source = None
    if source is None:
        raise ImageBuildError(recipe.name, f"go mod download {module}", (out.stdout + out.stderr).strip()[-2000:])
    with tempfile.TemporaryDirectory(prefix="azchaos-gosrc-") as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(source, work)
        for folder, _dirs, files in os.walk(work):  # the module cache is read-only
            os.chmod(folder, 0o700)
            for name in files:
                os.chmod(Path(folder) / name, 0o600)
        for patch in recipe.go_patches:
            progress(f"  {recipe.name}: applying {patch}")
            _run_step(recipe.name, f"git apply {patch}", ["git", "apply", "-p1", str(recipe.folder / patch)],
                      progress, cwd=work)
        progress(f"  {recipe.name}: go build {path} (compiling from patched source)")
        binary = bindir / path.rsplit("/", 1)[-1]
        _run_step(recipe.name, f"go build {path}", [go, "build", "-trimpath", "-o", str(binary), "."], progress,
                  cwd=work, env=dict(env, GOFLAGS="-mod=mod"))


def _pip_download(recipe: Recipe, wheels: Path, progress: Progress) -> None:
    """Fetch pinned wheels on the host (its network and CA bundle), for the Dockerfile to install
    from ``wheels/`` in the build context: nothing inside the build needs to reach PyPI."""
    if not recipe.pip_download:
        return
    progress(f"  {recipe.name}: pip download {' '.join(recipe.pip_download)}")
    python = ["--python-version", recipe.pip_python] if recipe.pip_python else []
    _run_step(recipe.name, "pip download", [sys.executable, "-m", "pip", "download", "--no-deps",
                                            "--only-binary=:all:", *python, "-d", str(wheels),
                                            *recipe.pip_download],
              progress)


def _build_dockerfile(
    recipe: Recipe, tag: str, base_ref: str | None, client: docker.DockerClient, progress: Progress
) -> None:
    with tempfile.TemporaryDirectory(prefix="azchaos-gobin-") as gobin, \
            tempfile.TemporaryDirectory(prefix="azchaos-wheels-") as wheels:
        _go_install(recipe, Path(gobin), progress)
        _pip_download(recipe, Path(wheels), progress)
        context = _context_tar(recipe, Path(gobin), Path(wheels))
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            buildargs={"BASE": base_ref} if base_ref else {},
            rm=True,
            forcerm=True,
            decode=True,
            labels={"azchaos.recipe": recipe.name},
        )
        _follow_build(recipe.name, stream, progress)


def _context_tar(recipe: Recipe, gobin: Path, wheels: Path | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel, path in recipe.files():
            tar.add(str(path), arcname=rel)
        for binary in sorted(gobin.iterdir()):
            tar.add(str(binary), arcname=f"bin/{binary.name}")
        for wheel in sorted(wheels.iterdir()) if wheels else []:
            tar.add(str(wheel), arcname=f"wheels/{wheel.name}")
    buffer.seek(0)
    return buffer


def _follow_build(name: str, stream: Any, progress: Progress) -> None:
    step = "docker build"
    try:
        for chunk in stream:
            line = str(chunk.get("stream", "")).strip()
            if line.startswith("Step "):
                step = line
                progress(f"  {name}: {line}")
            if "error" in chunk:
                raise ImageBuildError(name, step, str(chunk["error"]).strip())
    except docker.errors.APIError as exc:
        raise ImageBuildError(name, step, str(exc)) from None
