"""What turns a topology into running things and executes faults on them.

:class:`Backend` is the small interface the stack and the faults use; Docker
(:class:`DockerBackend`, through the Docker SDK) is the first implementation.
Kubernetes or AWS Fault Injection Service backends can implement the same
methods later.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import docker
import docker.errors
import requests.exceptions
from docker.types import EndpointConfig

from .errors import EngineError, StackError

LABEL_RUN = "azchaos.run"
LABEL_AZ = "azchaos.az"
LABEL_ROLE = "azchaos.role"


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
    def remove_run(self, run_id: str) -> int: ...


def connect(timeout_s: float = 60) -> docker.DockerClient:
    """Return a client of the Docker engine, or raise EngineError saying how to get one."""
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(
            f"no Docker engine answers ({_short(exc)}); "
            "start one (scripts/ensure-docker.sh installs and starts dockerd on Debian) "
            "or point DOCKER_HOST at it"
        ) from None
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


class DockerBackend:
    """A :class:`Backend` on a Docker engine, through the Docker SDK."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self.client = client or connect()

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        self.client.networks.create(name, driver="bridge", labels=dict(labels), check_duplicate=True)

    def create(self, spec: ContainerSpec) -> None:
        primary, aliases = spec.networks[0]
        container = self.client.containers.create(
            spec.image,
            name=spec.name,
            command=list(spec.command) or None,
            environment=dict(spec.environment),
            labels=dict(spec.labels),
            hostname=spec.name[-63:],
            ports={f"{port}/tcp": ("127.0.0.1", None) for port in spec.publish},
            network=primary,
            networking_config={primary: EndpointConfig(self.client.api._version, aliases=list(aliases))},
            detach=True,
        )
        for network, more in spec.networks[1:]:
            self.client.networks.get(network).connect(container, aliases=list(more))
        if spec.files:
            container.put_archive("/", _tar(spec.files))

    def start(self, names: Sequence[str]) -> None:
        self._each(names, self.client.api.start)

    def kill(self, names: Sequence[str]) -> None:
        self._each(names, self.client.api.kill)

    def pause(self, names: Sequence[str]) -> None:
        self._each(names, self.client.api.pause)

    def unpause(self, names: Sequence[str]) -> None:
        self._each(names, self.client.api.unpause)

    def stop(self, names: Sequence[str]) -> None:
        self._each(names, lambda name: self.client.api.stop(name, timeout=10))

    def restart(self, names: Sequence[str]) -> None:
        self._each(names, lambda name: self.client.api.restart(name, timeout=10))

    def disconnect(self, names: Sequence[str], network: str) -> None:
        self._each(names, lambda name: self.client.api.disconnect_container_from_network(name, network, force=True))

    def connect(self, name: str, network: str, aliases: Sequence[str]) -> None:
        self.client.networks.get(network).connect(name, aliases=list(aliases))

    def networks_of(self, name: str) -> set[str]:
        """Return the names of the networks container ``name`` is connected to."""
        return set(self.client.api.inspect_container(name)["NetworkSettings"]["Networks"])

    def _each(self, names: Sequence[str], action: Any) -> None:
        """Apply an action (a low-level API call taking a container name) to many containers at
        once, not one by one, and without inspecting each first: an AZ goes down in one step."""
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
            list(pool.map(action, names))

    def state(self, name: str) -> str:
        try:
            return str(self.client.api.inspect_container(name)["State"]["Status"])
        except docker.errors.NotFound:
            return "missing"

    def published_port(self, name: str, port: int) -> int:
        ports = self.client.api.inspect_container(name)["NetworkSettings"]["Ports"]
        bindings = ports.get(f"{port}/tcp") or []
        for binding in bindings:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        raise StackError(f"container {name}: port {port} is not published on 127.0.0.1")

    def exec(self, name: str, command: Sequence[str]) -> tuple[int, str]:
        result = self.client.containers.get(name).exec_run(list(command))
        return int(result.exit_code or 0), result.output.decode(errors="replace")

    def put_files(self, name: str, files: Mapping[str, str]) -> None:
        self.client.containers.get(name).put_archive("/", _tar(files))

    def logs(self, name: str, tail: int = 20) -> str:
        try:
            raw = self.client.containers.get(name).logs(tail=tail)
        except docker.errors.NotFound:
            return "(container is gone)"
        return bytes(raw).decode(errors="replace")

    def labels_of_run(self, run_id: str) -> list[dict[str, str]]:
        found = self.client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
        return [dict(c["Labels"], **{"azchaos.name": c["Names"][0].lstrip("/")}) for c in found]

    def _force_remove(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(container_id, force=True, v=True)

    def runs(self) -> set[str]:
        labels = [c["Labels"] for c in self.client.api.containers(all=True, filters={"label": LABEL_RUN})]
        labels += [n["Labels"] for n in self.client.api.networks(filters={"label": LABEL_RUN})]
        return {lab[LABEL_RUN] for lab in labels if lab.get(LABEL_RUN)}

    def remove_run(self, run_id: str) -> int:
        """Remove every container, network and volume labelled with ``run_id``; return the count."""
        selector = {"label": f"{LABEL_RUN}={run_id}"}
        # The low-level list: no inspect per container, which races with another remover.
        containers = [c["Id"] for c in self.client.api.containers(all=True, filters=selector)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._force_remove, containers))
        networks = self.client.networks.list(filters=selector)
        volumes = self.client.volumes.list(filters=selector)
        stuck = []
        for thing in [*networks, *volumes]:
            try:
                _retry_remove(thing)
            except docker.errors.APIError as exc:
                stuck.append(f"{thing.name}: {exc.explanation or exc}")
        if stuck:
            # Seen with Docker 20.10 after containers died mid-change: a network keeps an endpoint
            # that no container has. Everything else is gone; the engine's restart clears it.
            raise StackError(f"removed {len(containers)} containers of run {run_id}, but not "
                             f"{'; '.join(stuck)} (if no container uses it, this is a stale endpoint in "
                             "the Docker engine: restart dockerd, then 'azchaos down --all')")
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
