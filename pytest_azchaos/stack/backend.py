"""What turns a topology into running things and executes faults on them.

:class:`Backend` is the small interface the stack and the faults use; Docker
(:class:`DockerBackend`, through the Docker SDK) is the first implementation.
Kubernetes or AWS Fault Injection Service backends can implement the same
methods later.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import docker
import docker.errors
import requests.exceptions
from docker.types import EndpointConfig

from ..errors import ConfigError, EngineError, StackError
from .model import LABEL_AZ, LABEL_KEPT, LABEL_OWNER, LABEL_ROLE, LABEL_RUN
from .owner import owner_token

__all__ = ["LABEL_AZ", "LABEL_KEPT", "LABEL_OWNER", "LABEL_ROLE", "LABEL_RUN", "Backend", "ContainerSpec",
           "DockerBackend", "connect", "engine_call", "engine_error", "engine_silence", "interrupts_deferred",
           "names", "unanswered_calls"]


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container of the stack."""

    name: str
    image: str
    labels: Mapping[str, str]
    networks: Sequence[tuple[str, Sequence[str]]]  # (network, aliases); the first is primary
    environment: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] = ()
    publish: Sequence[int] = ()  # container ports, published on 127.0.0.1 at a port Docker picks
    files: Mapping[str, str] = field(default_factory=dict)  # absolute path -> content
    sysctls: Mapping[str, str] = field(default_factory=dict)  # network-namespace kernel settings


class Backend(Protocol):
    """The operations the stack and the faults need from a container platform."""

    def create_network(self, name: str, labels: Mapping[str, str]) -> None: ...
    def create(self, spec: ContainerSpec) -> None: ...
    def start(self, names: Sequence[str]) -> None: ...
    def kill(self, names: Sequence[str]) -> None: ...
    def pause(self, names: Sequence[str]) -> None: ...
    def unpause(self, names: Sequence[str]) -> None: ...
    def stop(self, names: Sequence[str]) -> None: ...
    def restart(self, names: Sequence[str]) -> None: ...
    def disconnect(self, names: Sequence[str], network: str) -> None: ...
    def connect(self, name: str, network: str, aliases: Sequence[str]) -> None: ...
    def networks_of(self, name: str) -> set[str]: ...
    def state(self, name: str) -> str: ...
    def published_port(self, name: str, port: int) -> int: ...
    def exec(self, name: str, command: Sequence[str]) -> tuple[int, str]: ...
    def put_files(self, name: str, files: Mapping[str, str]) -> None: ...
    def logs(self, name: str, tail: int = 20) -> str: ...
    def labels_of_run(self, run_id: str) -> list[dict[str, str]]: ...
    def runs(self) -> set[str]: ...
    def run_labels(self) -> dict[str, dict[str, str]]: ...
    def mark_kept(self, run_id: str) -> None: ...
    def remove_run(self, run_id: str) -> int: ...


# docker-py's base URL of an engine reached through a unix socket (tcp:// and ssh:// have others).
_UNIX_SOCKET = "http+docker://localhost"
# Container states in which nothing of the container runs.
_STOPPED = frozenset({"created", "exited", "dead"})

ENGINE_HINT = ("run 'azchaos engine' (checks the engine; installs and starts dockerd on Debian) "
               "or point DOCKER_HOST at one")


TIMEOUT_ENV = "AZCHAOS_ENGINE_TIMEOUT"
DEFAULT_TIMEOUT_S = 60


def engine_timeout() -> int:
    """How long to wait for the engine to answer one call, in seconds: $AZCHAOS_ENGINE_TIMEOUT or 60."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise ConfigError(f"{TIMEOUT_ENV}={text!r}: expected a whole number of seconds, at least 1 (default "
                          f"{DEFAULT_TIMEOUT_S})")
    return seconds


def connect(timeout_s: float | None = None) -> docker.DockerClient:
    """Return a client of the Docker engine, or raise EngineError saying how to get one.

    Each call waits ``timeout_s`` for an answer (default: :func:`engine_timeout`)."""
    try:
        client = docker.from_env(timeout=int(timeout_s or engine_timeout()))
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"no Docker engine answers ({_short(exc)}); {ENGINE_HINT}") from None
    return client


# What Docker says when it has no address range left for a network: 20.10, then 23 and later.
_NO_RANGE_LEFT = ("non-overlapping IPv4 address pool", "all predefined address pools have been fully subnetted")

# What to try, by what the engine said; the first match wins.
_HINTS = (
    ("is already in use", "something else has that name: a leftover run ('azchaos down --orphans', or "
                          "'azchaos down --run-id RUN'), or not ours (docker rm -f NAME); or choose another run id"),
    ("already exists", "something else has that name: a leftover run ('azchaos down --orphans', or "
                       "'azchaos down --run-id RUN'), or not ours (docker network rm NAME); or choose another run id"),
    ("port is already allocated", "another process holds that port; retry (Docker picks a new one)"),
    ("no space left", "the engine's disk is full: free space (docker system prune) and retry"),
    ("no such image", "build or pull it first: 'azchaos images build --env ENV'"),
    ("is not running", "it was stopped or killed meanwhile (a fault?); see 'azchaos status'"),
    ("is paused", "it is frozen by a fault; heal it first ('azchaos heal')"),
)


def engine_error(what: str, exc: BaseException) -> StackError | EngineError:
    """Return the AzChaosError for a Docker SDK error met while doing ``what`` (e.g. "creating container x")."""
    if isinstance(exc, docker.errors.APIError):
        said = str(exc.explanation or exc).strip()
        lowered = said.lower()
        hint = next((h for needle, h in _HINTS if needle in lowered), None)
        if hint is None:
            hint = ("it is gone (removed by another process?); see 'azchaos status'"
                    if isinstance(exc, docker.errors.NotFound) else "see the engine's log (journalctl -u docker)")
        return StackError(f"{what}: the Docker engine refused ({exc.status_code}): {_short_text(said)}; hint: {hint}")
    _SILENCE.heard(what, exc)
    return EngineError(f"{what}: the Docker engine did not answer ({_short(exc)}); {ENGINE_HINT}")


class _Silence:
    """The calls the engine left unanswered in this process, counted where they become an EngineError.

    A Docker engine can stop answering in the middle of a run (dockerd 20.10's networking deadlocks
    after hours of container churn: ``docker info`` answers, listing networks hangs); every later
    call then waits out the timeout. The pytest plugin looks here after each test, and stops the
    run when :func:`engine_silence` confirms it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.last = ""

    def heard(self, what: str, exc: BaseException) -> None:
        with self._lock:
            self.count += 1
            self.last = f"{what}: {_short(exc)}"


_SILENCE = _Silence()


def unanswered_calls() -> tuple[int, str]:
    """How many engine calls went unanswered in this process so far, and what the last one was."""
    return _SILENCE.count, _SILENCE.last


def engine_silence(timeout_s: float = 15) -> str | None:
    """None if the engine lists containers and networks within ``timeout_s``, else what went wrong.

    Both lists: in dockerd's networking deadlock the engine still answers a ping and lists containers."""
    try:
        client = docker.from_env(timeout=max(1, int(timeout_s)))
        try:
            client.api.containers(all=True, limit=1)
            client.api.networks(filters={"label": LABEL_RUN})
        finally:
            client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return _short(exc)
    return None


@contextlib.contextmanager
def engine_call(what: str) -> Iterator[None]:
    """Translate Docker SDK and transport errors inside the block into an AzChaosError saying ``what``.

    The SDK's error stays the ``__context__``, but is not shown: its chain through requests and
    urllib3 (a screen of frames per call) says nothing that the message does not."""
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise engine_error(what, exc) from None


@contextlib.contextmanager
def interrupts_deferred(what: str) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt if one came.

    A removal cut in half leaves networks no one removes; a user pressing Ctrl-C again while
    the stack goes away is told to wait. Only the main thread can hold signals; elsewhere
    (and where no handler of ours can be set) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)
        print(f"azchaos: {what}; interrupting now would leave objects behind, please wait",
              flush=True)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
    if held:
        raise KeyboardInterrupt(f"signal {held[0]} (held while {what})")


def _short(exc: BaseException) -> str:
    return _short_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _short_text(text: str) -> str:
    return text if len(text) < 160 else text[:157] + "..."


class DockerBackend:
    """A :class:`Backend` on a Docker engine, through the Docker SDK.

    Every engine call is made in :func:`engine_call`: what the engine refuses is a
    :class:`StackError` saying what was being done to which object, and a hint; an engine
    that does not answer is an :class:`EngineError`. No docker-py traceback goes further.
    """

    def __init__(self, client: docker.DockerClient | None = None, *, owner: str | None = None) -> None:
        self.client = client or connect()
        # Every object of a run is labelled with the process that removes it, so that a start after
        # that process was killed with its reaper can tell the leftovers from live runs (reaper.sweep).
        self.owner = owner_token() if owner is None else owner

    def _owned(self, labels: Mapping[str, str]) -> dict[str, str]:
        return {**labels, LABEL_OWNER: self.owner} if self.owner and LABEL_RUN in labels else dict(labels)

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        with engine_call(f"creating network {name}"):
            try:
                self.client.networks.create(name, driver="bridge", labels=self._owned(labels), check_duplicate=True)
            except docker.errors.APIError as exc:
                said = str(exc.explanation or exc)
                if not any(words in said for words in _NO_RANGE_LEFT):
                    raise
                raise StackError(self._no_address_range(name, labels.get(LABEL_RUN, ""), exc)) from exc

    def _no_address_range(self, name: str, run_id: str, exc: docker.errors.APIError) -> str:
        """Say that the engine has no address range left for a network, and which stacks hold them:
        with Docker's default pools, 30 bridge networks; a region takes one per AZ and one more."""
        networks = self.client.api.networks()
        runs: dict[str, int] = {}
        for network in networks:
            run = (network.get("Labels") or {}).get(LABEL_RUN)
            if run and run != run_id:
                runs[run] = runs.get(run, 0) + 1
        held = (f"{sum(runs.values())} of them belong to {len(runs)} other azchaos stack(s): "
                + ", ".join(f"{run} ({count})" for run, count in sorted(runs.items())) if runs
                else "none of them belongs to another azchaos stack")
        return (f"creating network {name}: the Docker engine has no address range left for another network "
                f"(it said: {_short_text(str(exc.explanation or exc))}). It has {len(networks)} networks; {held}. "
                "Remove the stacks you no longer need ('azchaos list' shows whose each is; 'azchaos down "
                "--run-id RUN'), networks of other "
                "tools (docker network prune), or give dockerd more ranges ('default-address-pools' in "
                "/etc/docker/daemon.json)")

    def create(self, spec: ContainerSpec) -> None:
        primary, aliases = spec.networks[0]
        with engine_call(f"creating container {spec.name} (image {spec.image})"):
            container = self.client.containers.create(
                spec.image,
                name=spec.name,
                command=list(spec.command) or None,
                environment=dict(spec.environment),
                labels=self._owned(spec.labels),
                hostname=spec.name[-63:],
                ports={f"{port}/tcp": ("127.0.0.1", None) for port in spec.publish},
                network=primary,
                sysctls=dict(spec.sysctls) or None,
                networking_config={primary: EndpointConfig(self.client.api._version, aliases=list(aliases))},
                detach=True,
            )
        for network, more in spec.networks[1:]:
            with engine_call(f"connecting container {spec.name} to network {network}"):
                self.client.networks.get(network).connect(container, aliases=list(more))
        if spec.files:
            with engine_call(f"copying {', '.join(spec.files)} into container {spec.name}"):
                container.put_archive("/", _tar(spec.files))

    def start(self, names: Sequence[str]) -> None:
        self._each("starting container {}", names, self.client.api.start)

    def kill(self, names: Sequence[str]) -> None:
        self._each("killing container {}", names, self.client.api.kill)

    def pause(self, names: Sequence[str]) -> None:
        self._each("pausing container {}", names, self.client.api.pause)

    def unpause(self, names: Sequence[str]) -> None:
        self._each("unpausing container {}", names, self.client.api.unpause)

    def stop(self, names: Sequence[str]) -> None:
        self._each("stopping container {}", names, lambda name: self.client.api.stop(name, timeout=10))

    def restart(self, names: Sequence[str]) -> None:
        self._each("restarting container {}", names, lambda name: self.client.api.restart(name, timeout=10))

    def disconnect(self, names: Sequence[str], network: str) -> None:
        self._each(f"disconnecting container {{}} from network {network}", names,
                   # Not force=True: forcing is for endpoints whose container is gone; on a running
                   # container it can drop the endpoint from dockerd's store while the sandbox keeps
                   # it, and the network then cannot be removed until dockerd restarts.
                   lambda name: self.client.api.disconnect_container_from_network(name, network))

    def connect(self, name: str, network: str, aliases: Sequence[str]) -> None:
        with engine_call(f"connecting container {name} to network {network}"):
            self.client.networks.get(network).connect(name, aliases=list(aliases))

    def networks_of(self, name: str) -> set[str]:
        """Return the names of the networks container ``name`` is connected to."""
        with engine_call(f"inspecting container {name}"):
            return set(self.client.api.inspect_container(name)["NetworkSettings"]["Networks"])

    def _each(self, what: str, names: Sequence[str], action: Callable[[str], Any]) -> None:
        """Apply an action (a low-level API call taking a container name) to many containers at
        once, not one by one, and without inspecting each first: an AZ goes down in one step.
        ``what`` says what is done, with {} for the container's name."""
        def one(name: str) -> None:
            with engine_call(what.format(name)):
                action(name)

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
            list(pool.map(one, names))

    def state(self, name: str) -> str:
        try:
            with engine_call(f"inspecting container {name}"):
                return str(self.client.api.inspect_container(name)["State"]["Status"])
        except StackError as exc:
            if isinstance(exc.__context__, docker.errors.NotFound):
                return "missing"
            raise

    def published_port(self, name: str, port: int) -> int:
        with engine_call(f"inspecting container {name}"):
            ports = self.client.api.inspect_container(name)["NetworkSettings"]["Ports"]
        bindings = ports.get(f"{port}/tcp") or []
        for binding in bindings:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        raise StackError(f"container {name}: port {port} is not published on 127.0.0.1")

    def exec(self, name: str, command: Sequence[str]) -> tuple[int, str]:
        with engine_call(f"running {' '.join(command)!r} in container {name}"):
            result = self.client.containers.get(name).exec_run(list(command))
        return int(result.exit_code or 0), result.output.decode(errors="replace")

    def put_files(self, name: str, files: Mapping[str, str]) -> None:
        with engine_call(f"copying {', '.join(files)} into container {name}"):
            self.client.containers.get(name).put_archive("/", _tar(files))

    def logs(self, name: str, tail: int = 20) -> str:
        try:
            with engine_call(f"reading the log of container {name}"):
                raw = self.client.containers.get(name).logs(tail=tail)
        except StackError as exc:
            return f"(no log: {exc})"
        return bytes(raw).decode(errors="replace")

    def labels_of_run(self, run_id: str) -> list[dict[str, str]]:
        with engine_call(f"listing the containers of run {run_id}"):
            found = self.client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
        return [dict(c["Labels"], **{"azchaos.name": c["Names"][0].lstrip("/")}) for c in found]

    def _mend_stale_endpoints(self, network: Any, containers: list[dict[str, Any]]) -> bool:
        """Delete endpoints that ``network`` kept for ``containers`` (removed now), then remove it;
        True if it is gone.

        Docker 20.10 now and then keeps such an endpoint under load ("has active endpoints", while
        inspect lists no container). A forced disconnect that names a container the engine no
        longer has deletes the network's endpoint of that name (dockerd's ForceEndpointDelete),
        which is the container's name; without it only a restart of the engine cleared it.
        """
        for container in containers:
            for name in container.get("Names") or []:
                with contextlib.suppress(docker.errors.APIError):
                    self.client.api.disconnect_container_from_network(name.lstrip("/"), network.id, force=True)
        try:
            _retry_remove(network, attempts=2)
        except docker.errors.APIError:
            return False
        return True

    def _force_remove(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(container_id, force=True, v=True)

    def runs(self) -> set[str]:
        """Return the run ids that label any container or network."""
        return set(self.run_labels())

    def _listed(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Return the containers, networks and volumes labelled with a run, as the engine lists them."""
        with engine_call("listing azchaos runs"):
            containers = self.client.api.containers(all=True, filters={"label": LABEL_RUN})
            networks = self.client.api.networks(filters={"label": LABEL_RUN})
            volumes = self.client.api.volumes(filters={"label": LABEL_RUN}).get("Volumes") or []
        return containers, networks, volumes

    def run_labels(self) -> dict[str, dict[str, str]]:
        """Return each run id with the labels of one of its objects (containers first)."""
        return {run: found["labels"] for run, found in self.run_objects().items()}

    def run_objects(self) -> dict[str, dict[str, Any]]:
        """Return each run id with its labels (those of one of its objects, containers first) and
        the count of its ``containers``, of those ``running`` (or paused or restarting), and of its
        ``networks`` and ``volumes``."""
        containers, networks, volumes = self._listed()
        found: dict[str, dict[str, Any]] = {}
        for kind, listed in (("containers", containers), ("networks", networks), ("volumes", volumes)):
            for thing in listed:
                labels = thing.get("Labels") or {}
                if not labels.get(LABEL_RUN):
                    continue
                run = found.setdefault(labels[LABEL_RUN], {"labels": {}, "containers": 0, "running": 0,
                                                          "networks": 0, "volumes": 0})
                run["labels"] = {**labels, **run["labels"]}
                run[kind] += 1
                run["running"] += kind == "containers" and thing.get("State") not in _STOPPED
        return found

    def running_runs(self) -> set[str]:
        """Return the run ids with a container that runs (or is paused or restarting)."""
        return {run for run, found in self.run_objects().items() if found["running"]}

    def on_this_machine(self) -> bool:
        """Return True if the engine runs on this machine: reached through a local socket, and
        named as this host (a socket forwarded from another machine names that one)."""
        if self.client.api.base_url != _UNIX_SOCKET:
            return False
        with engine_call("asking the engine for its host name"):
            return bool(self.client.info().get("Name") == socket.gethostname())

    def mark_kept(self, run_id: str) -> None:
        """Record in the engine that run ``run_id`` outlives its owner on purpose (azchaos up, --azchaos-keep).

        A labelled volume rather than a label: labels cannot change once set. ``remove_run`` removes it."""
        with engine_call(f"marking run {run_id} as kept"):
            self.client.api.create_volume(f"azchaos-{run_id}-kept", labels={LABEL_RUN: run_id, LABEL_KEPT: "1"})

    def remove_run(self, run_id: str) -> int:
        """Remove every container, network and volume labelled with ``run_id``; return the count.

        Ctrl-C and SIGTERM are held until it is done: half a removal leaves networks behind."""
        with interrupts_deferred(f"removing stack {run_id}"), engine_call(f"removing stack {run_id}"):
            return self._remove_run(run_id)

    def _remove_run(self, run_id: str) -> int:
        selector = {"label": f"{LABEL_RUN}={run_id}"}
        # The low-level list: no inspect per container, which races with another remover.
        listed = self.client.api.containers(all=True, filters=selector)
        containers = [c["Id"] for c in listed]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._force_remove, containers))
        networks = self.client.networks.list(filters=selector)
        volumes = self.client.volumes.list(filters=selector)
        stuck = []
        for thing in [*networks, *volumes]:
            try:
                _retry_remove(thing)
            except docker.errors.APIError as exc:
                if not (thing in networks and self._mend_stale_endpoints(thing, listed)):
                    stuck.append(f"{thing.name}: {exc.explanation or exc}")
        if stuck:
            # Seen with Docker 20.10 after containers died mid-change: a network keeps an endpoint
            # that no container has. Everything else is gone; the engine's restart clears it.
            raise StackError(f"removed {len(containers)} containers of run {run_id}, but not "
                             f"{'; '.join(stuck)} (if no container uses it, this is a stale endpoint in "
                             f"the Docker engine: restart dockerd, then 'azchaos down --run-id {run_id}')")
        return len(containers) + len(networks) + len(volumes)


def _retry_remove(thing: Any, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            thing.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def _tar(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def names(items: Iterable[Any]) -> list[str]:
    """Return the container names of stack members."""
    return [item.container for item in items]
