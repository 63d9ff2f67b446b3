"""Cleanup whatever ends the run: owner tokens, the sweep of dead owners' runs, held interrupts,
and engine errors translated at the backend. No Docker engine needed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any

import docker.errors
import pytest
import requests

from pytest_azchaos.backend import LABEL_KEPT, LABEL_OWNER, DockerBackend, engine_call, interrupts_deferred
from pytest_azchaos.errors import ConfigError, EngineError, StackError
from pytest_azchaos.stack import owner, reaper
from pytest_azchaos.stack.backend import connect, engine_timeout, unanswered_calls


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_live_owner_is_never_dead() -> None:
    token = owner.owner_token()
    assert f"pid={os.getpid()};" in token
    assert not owner.owner_dead(token)


def test_an_exited_owner_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    token = owner.owner_token(child.pid)
    assert not owner.owner_dead(token)
    child.kill()
    child.wait()
    assert owner.owner_dead(token)


def test_a_process_whose_start_time_cannot_be_read_is_not_provably_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(owner, "_start_ticks", lambda pid: None)  # /proc with hidepid: another user's process
    token = f"host=x;boot={owner._host_identity()[0]};pidns={owner._host_identity()[1]};pid={os.getpid()};start=1"
    assert not owner.owner_dead(token)


def test_the_owner_label_names_its_pid() -> None:
    assert owner.owner_pid(owner.owner_token()) == os.getpid()
    assert owner.owner_pid("") is None and owner.owner_pid("host=x;pid=;start=1") is None


def test_a_reused_pid_does_not_keep_a_dead_owner_alive() -> None:
    token = owner.owner_token().replace(";start=", ";start=1")  # same PID, another start time
    assert owner.owner_dead(token)


@pytest.mark.parametrize("change", [("boot=", "boot=x"), ("pidns=", "pidns=pid:[1]x"), ("pid=", "pid=x")])
def test_another_boot_namespace_or_garbage_is_never_provably_dead(change: tuple[str, str]) -> None:
    token = owner.owner_token(dead_pid()) or owner.owner_token()
    assert not owner.owner_dead(token.replace(*change))
    assert not owner.owner_dead("")


def earlier_boot_token() -> str:
    """The owner token of a process of this machine before it restarted."""
    return owner.owner_token().replace(";boot=", ";boot=0")


@pytest.mark.parametrize("change", [("", ""), ("host=", "host=x"), ("machine=", "machine=x"), (";boot=0", ";boot=")])
def test_an_owner_of_an_earlier_boot_is_one_of_this_machine_and_another_boot(change: tuple[str, str]) -> None:
    token = earlier_boot_token()
    assert owner.earlier_boot(token.replace(*change)) is (change[0] == ""), token.replace(*change)
    assert not owner.owner_dead(token), "owner_dead cannot judge another boot: that is earlier_boot's to say"


def test_without_a_machine_id_no_owner_is_of_an_earlier_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    token = earlier_boot_token()
    monkeypatch.setattr(owner, "_machine_id", lambda: "")  # a container without /etc/machine-id
    assert not owner.earlier_boot(token.replace("machine=" + token.split("machine=")[1].split(";")[0], "machine="))
    assert not owner.earlier_boot("") and not owner.earlier_boot("host=x;boot=y")


def test_the_owner_is_described_as_far_as_this_process_can_tell(gone_owner: str) -> None:
    here = owner.owner_token()
    assert owner.describe(here).startswith(f"process {os.getpid()} (python")
    assert owner.describe(gone_owner) == f"process {owner.owner_pid(gone_owner)}, which died"
    assert owner.describe(here.replace("host=", "host=x")).startswith(f"process {os.getpid()} on host x")
    assert owner.describe(earlier_boot_token()).startswith(f"process {os.getpid()} of another boot of host ")
    in_a_container = here.replace("pidns=", "pidns=x")
    assert owner.describe(in_a_container) == f"process {os.getpid()} in another container of this host"
    assert owner.describe("") == "unknown owner"
    program = "import time; print(1, flush=True); time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE) as child:
        try:  # the command line, with the interpreter by name, not its path
            # Popen returns when the exec has begun, before the kernel has set the new command line
            # (/proc/PID/cmdline then reads empty): the child's first line says its exec is done.
            assert child.stdout is not None and child.stdout.readline() == b"1\n"
            said = owner.describe(owner.owner_token(child.pid))
            assert said == f"process {child.pid} ({os.path.basename(sys.executable)} -c {program})"
        finally:
            child.kill()


class FakeEngine:
    def __init__(self, runs: dict[str, dict[str, str]], running: set[str] | None = None, here: bool = True) -> None:
        self.labels = runs
        self.running = running or set()
        self.here = here
        self.removed: list[str] = []

    def run_labels(self) -> dict[str, dict[str, str]]:
        return self.labels

    def running_runs(self) -> set[str]:
        return self.running

    def on_this_machine(self) -> bool:
        return self.here

    def remove_run(self, run_id: str) -> int:
        self.removed.append(run_id)
        return 3


class EngineHere(FakeEngine, DockerBackend):
    """A Docker engine on this host, as far as the guard can tell, that answers from a dict."""


def test_the_sweep_removes_only_runs_of_dead_owners_that_were_not_kept(gone_owner: str) -> None:
    live, gone = owner.owner_token(), gone_owner
    engine = FakeEngine({
        "orphan": {LABEL_OWNER: gone},
        "kept": {LABEL_OWNER: gone, LABEL_KEPT: "1"},
        "live": {LABEL_OWNER: live},
        "unlabelled": {},
        "elsewhere": {LABEL_OWNER: gone.replace("host=", "host=other").replace("boot=", "boot=other")},
    })
    said: list[str] = []
    assert reaper.sweep(engine, said.append) == ["orphan"]  # type: ignore[arg-type]
    assert engine.removed == ["orphan"]
    assert said == ["removed stack orphan left by a process that died (3 objects)"]


def test_the_sweep_removes_the_stopped_runs_of_an_earlier_boot_of_this_machine() -> None:
    before = earlier_boot_token()
    runs = {
        "stopped": {LABEL_OWNER: before},
        "running": {LABEL_OWNER: before},
        "kept": {LABEL_OWNER: before, LABEL_KEPT: "1"},
        "cloned": {LABEL_OWNER: before.replace("machine=", "machine=x")},
    }
    engine = FakeEngine(runs, running={"running"})
    said: list[str] = []
    assert reaper.sweep(engine, said.append) == ["stopped"]  # type: ignore[arg-type]
    assert said == ["removed stack stopped left from before this machine restarted (3 objects)"]
    # An engine elsewhere (a forwarded socket, tcp://) may serve a cloned machine of the same name and id.
    elsewhere = FakeEngine(runs, here=False)
    assert reaper.sweep(elsewhere, said.append) == [] and elsewhere.removed == []  # type: ignore[arg-type]


def test_a_leftover_the_engine_cannot_remove_is_reported_and_does_not_stop_the_start(gone_owner: str) -> None:
    """dockerd can keep a stale endpoint on a network after a partition heal; the network then cannot
    be removed until dockerd restarts. Every later start sweeps: it must warn and go on."""
    engine = FakeEngine({"stuck": {LABEL_OWNER: gone_owner}})

    def refuse(run_id: str) -> int:
        raise StackError("network azchaos-stuck-region has active endpoints")

    engine.remove_run = refuse  # type: ignore[method-assign]
    said: list[str] = []
    assert reaper.sweep(engine, said.append) == ["stuck"]  # type: ignore[arg-type]
    assert said == ["warning: could not remove stack stuck left by a process that died: "
                    "network azchaos-stuck-region has active endpoints"]


def test_the_guard_sweeps_then_keeps_a_reaper_until_released(gone_owner: str) -> None:
    engine = EngineHere({"orphan": {LABEL_OWNER: gone_owner}})
    said: list[str] = []
    guard = reaper.Guard(engine, "mine", said.append)
    watching = guard._reaper
    assert engine.removed == ["orphan"] and said == ["removed stack orphan left by a process that died (3 objects)"]
    assert watching is not None and watching.poll() is None, "no reaper watches the run"
    assert watching.args[-2:] == ["mine", str(os.getpid())]
    guard.release()
    guard.release()  # twice is harmless: the plugin's stop may run after a failed start released it
    assert watching.returncode is not None, "the reaper outlived its release"
    assert engine.removed == ["orphan"], "the guard removed the run it guards"


def test_the_guard_releases_when_its_block_raises() -> None:
    with pytest.raises(RuntimeError), reaper.Guard(EngineHere({}), "mine") as guard:
        watching = guard._reaper
        raise RuntimeError("the stack did not start")
    assert watching is not None and watching.returncode is not None


def test_a_backend_that_is_no_docker_engine_here_is_not_guarded(gone_owner: str) -> None:
    engine = FakeEngine({"orphan": {LABEL_OWNER: gone_owner}})
    with reaper.Guard(engine, "mine") as guard:  # type: ignore[arg-type]
        assert guard._reaper is None
    assert engine.removed == [], "a fake backend's runs are not this host's to sweep"


def test_interrupts_are_held_until_the_removal_is_done() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt, match="held while removing stack x"), interrupts_deferred("removing stack x"):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("removed")
    assert done == ["removed"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def api_error(status: int, text: str, cls: type[docker.errors.APIError] = docker.errors.APIError) -> Exception:
    response = requests.Response()
    response.status_code = status
    return cls(text, response=response, explanation=text)


@pytest.mark.parametrize(("exc", "kind", "words"), [
    (api_error(409, 'Conflict. The container name "/azchaos-x-lb" is already in use'), StackError,
     "creating container azchaos-x-lb: the Docker engine refused (409): Conflict. The container name"),
    (api_error(500, "driver failed: Bind for 127.0.0.1:0 failed: port is already allocated"), StackError,
     "hint: another process holds that port"),
    (api_error(404, "No such container: azchaos-x-lb", docker.errors.NotFound), StackError,
     "hint: it is gone (removed by another process?)"),
    (requests.exceptions.ConnectionError("Connection aborted"), EngineError,
     "creating container azchaos-x-lb: the Docker engine did not answer (Connection aborted); run 'azchaos engine'"),
])
def test_engine_errors_say_what_was_done_to_what_and_a_hint(exc: Exception, kind: type[Exception], words: str) -> None:
    with pytest.raises(kind) as caught, engine_call("creating container azchaos-x-lb"):
        raise exc
    assert words in str(caught.value)
    assert caught.value.__context__ is exc and caught.value.__suppress_context__  # kept, not shown


def test_only_calls_left_unanswered_are_counted_as_the_engine_s_silence() -> None:
    before, _ = unanswered_calls()
    with pytest.raises(StackError), engine_call("killing container x"):
        raise api_error(409, "Container x is not running")  # it answered: no
    assert unanswered_calls()[0] == before
    with pytest.raises(EngineError), engine_call("killing container x"):
        raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
    assert unanswered_calls() == (before + 1, "killing container x: Read timed out. (read timeout=60)")


@pytest.mark.parametrize(("value", "seconds"), [(None, 60), ("", 60), (" 20 ", 20), ("1", 1)])
def test_the_engine_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                                       seconds: int) -> None:
    if value is None:
        monkeypatch.delenv("AZCHAOS_ENGINE_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("AZCHAOS_ENGINE_TIMEOUT", value)
    assert engine_timeout() == seconds


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "60s", "soon"])
def test_a_bad_engine_timeout_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AZCHAOS_ENGINE_TIMEOUT", value)
    with pytest.raises(ConfigError, match=rf"AZCHAOS_ENGINE_TIMEOUT='{re.escape(value)}': expected a whole number of "
                                          r"seconds, at least 1 \(default 60\)"):
        connect()


class _RefusingAPI:
    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise api_error(409, "cannot pause container: it is not running")
        return refuse


class _RefusingClient:
    api = _RefusingAPI()


def test_a_refused_fault_action_names_the_container() -> None:
    backend = DockerBackend(_RefusingClient(), owner="")  # type: ignore[arg-type]
    with pytest.raises(StackError, match="pausing container azchaos-x-app-a-1: the Docker engine refused "
                                         r"\(409\): .* hint: it was stopped or killed meanwhile"):
        backend.pause(["azchaos-x-app-a-1"])


# Docker 20.10's words (this machine's engine, tests/integration/test_address_pools.py), and 23 and later's.
DOCKER_20 = "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
DOCKER_23 = "all predefined address pools have been fully subnetted"


class _NoRangeLeft:
    """An engine whose address pools are all taken, by networks of ``held`` (run id -> count) and others."""

    def __init__(self, held: dict[str, int], said: str = DOCKER_20) -> None:
        listed = [{"Labels": {"azchaos.run": run}} for run, count in held.items() for _ in range(count)]
        self.api = type("Api", (), {"networks": lambda api: [*listed, {"Labels": None}, {"Labels": {}}]})()

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise api_error(400, said)
        self.networks = type("Networks", (), {"create": staticmethod(refuse)})()


@pytest.mark.parametrize(("held", "words", "said"), [
    ({"r1": 4, "r2": 8, "mine": 1},
     "It has 15 networks; 12 of them belong to 2 other azchaos stack(s): r1 (4), r2 (8).", DOCKER_20),
    ({}, "It has 2 networks; none of them belongs to another azchaos stack.", DOCKER_20),
    ({"r1": 4}, "It has 6 networks; 4 of them belong to 1 other azchaos stack(s): r1 (4).", DOCKER_23),
])
def test_no_address_range_left_names_the_stacks_holding_them(held: dict[str, int], words: str, said: str) -> None:
    backend = DockerBackend(_NoRangeLeft(held, said), owner="")  # type: ignore[arg-type]
    with pytest.raises(StackError) as caught:
        backend.create_network("azchaos-mine-a", {"azchaos.run": "mine"})
    message = str(caught.value)
    assert message.startswith("creating network azchaos-mine-a: the Docker engine has no address range left "
                              f"for another network (it said: {said[:60]}"), message
    assert words in message and "'azchaos down --run-id RUN'" in message and "default-address-pools" in message, message


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ToxiproxyGone:
    """A stack whose Toxiproxy of AZ a answers on no port."""

    def __init__(self) -> None:
        from pytest_azchaos.stack import Member

        self.proxy = Member("toxiproxy", "toxiproxy", "a", 1, "azchaos-x-toxiproxy-a", "toxiproxy-a", 8474)
        self.port = closed_port()

        class Backend:
            def state(self, name: str) -> str:
                return "running"

        self.backend = Backend()

    def members(self, role: str | None = None) -> list[Any]:
        return [self.proxy]

    @property
    def members_all(self) -> list[Any]:
        return [self.proxy]

    def member(self, alias: str) -> Any:
        assert alias == self.proxy.alias
        return self.proxy

    def links(self) -> list[Any]:
        from pytest_azchaos.stack.model import Link

        return [Link("a/app->db", "a", "toxiproxy-a", 15432, "db:5432")]

    def host_port(self, member: Any, port: int | None = None) -> int:
        return self.port


def test_restore_says_which_toxiproxy_did_not_answer() -> None:
    from pytest_azchaos.faults.restore import _links

    stack = _ToxiproxyGone()
    with pytest.raises(StackError, match=r"restoring the links failed: Toxiproxy toxiproxy-a "
                                         rf"\(http://127.0.0.1:{stack.port}\), listing proxies: ConnectionError: "
                                         r".*docker logs azchaos-x-toxiproxy-a"):
        _links(stack, started=set())  # type: ignore[arg-type]


def test_a_link_fault_says_which_toxiproxy_did_not_answer() -> None:
    from pytest_azchaos.errors import FaultError
    from pytest_azchaos.faults.links import LinkToxic

    stack = _ToxiproxyGone()
    with pytest.raises(FaultError, match=rf"Toxiproxy toxiproxy-a \(http://127.0.0.1:{stack.port}\), adding toxic "
                                         r"azchaos_latency_downstream to a.app_to_db: ConnectionError"
                                         r".*hint: is its AZ up"):
        LinkToxic("a/app->db", "latency", (("latency", 100),)).inject(stack)  # type: ignore[arg-type]


def test_the_command_never_shows_a_docker_traceback(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_azchaos import cli

    def status(args: Any) -> int:
        raise api_error(500, "container has no network settings")

    monkeypatch.setitem(cli.COMMANDS, "status", status)
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert err == ("azchaos: error: azchaos status: the Docker engine refused (500): container has no network "
                   "settings; hint: see the engine's log (journalctl -u docker)\n")


# -- a network that Docker 20.10 keeps a stale endpoint on ---------------------------------------


class _StaleNetwork:
    """Refuses removal ("has active endpoints") while it keeps an endpoint of a removed container."""

    def __init__(self, endpoints: set[str]) -> None:
        self.id, self.name = "n1", "azchaos-r-region"
        self.endpoints = endpoints
        self.removed = False

    def remove(self) -> None:
        if self.endpoints:
            raise docker.errors.APIError("500 Server Error", explanation=(
                f"error while removing network: network {self.name} id {self.id} has active endpoints"))
        self.removed = True


class _StaleEngine:
    def __init__(self, network: _StaleNetwork, mendable: bool) -> None:
        self.network = network
        self.mendable = mendable
        engine = self

        class Api:
            def containers(self, **filters: object) -> list[dict[str, object]]:  # all=, filters=
                return [{"Id": "c1", "Names": ["/azchaos-r-app-a-1"]}, {"Id": "c2", "Names": ["/azchaos-r-lb"]}]

            def remove_container(self, container_id: str, force: bool, v: bool) -> None:
                pass

            def disconnect_container_from_network(self, container: str, net_id: str, force: bool) -> None:
                # dockerd: no such container, and force: delete the network's endpoint of that name
                if not force or net_id != engine.network.id:
                    raise docker.errors.APIError("refused")
                if engine.mendable:
                    engine.network.endpoints.discard(container)

        class Listing:
            def __init__(self, items: list[object]) -> None:
                self.items = items

            def list(self, filters: dict[str, str]) -> list[object]:
                return self.items

        self.api = Api()
        self.networks = Listing([network])
        self.volumes = Listing([])


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_azchaos.stack import backend as backend_module

    monkeypatch.setattr(backend_module.time, "sleep", lambda seconds: None)


@pytest.mark.usefixtures("no_waits")
def test_a_stale_endpoint_of_a_removed_container_is_deleted_and_the_network_removed() -> None:
    network = _StaleNetwork({"azchaos-r-app-a-1"})
    backend = DockerBackend(_StaleEngine(network, mendable=True), owner="")  # type: ignore[arg-type]
    assert backend.remove_run("r") == 3
    assert network.removed


@pytest.mark.usefixtures("no_waits")
def test_a_stale_endpoint_that_cannot_be_deleted_is_named_with_the_engine_restart_hint() -> None:
    network = _StaleNetwork({"something-else"})
    backend = DockerBackend(_StaleEngine(network, mendable=True), owner="")  # type: ignore[arg-type]
    with pytest.raises(StackError, match=r"removed 2 containers of run r, but not azchaos-r-region: .*active "
                                         r"endpoints.*restart dockerd, then 'azchaos down --run-id r'"):
        backend.remove_run("r")
    assert not network.removed
