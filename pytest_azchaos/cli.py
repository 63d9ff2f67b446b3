"""The ``azchaos`` command: build images, bring stacks up and down, show their status.

It drives the same engine as the pytest plugin; neither holds logic the other lacks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import docker.errors
import requests.exceptions

from . import __version__, cli_faults, cli_gameday, cli_report
from .errors import AzChaosError, ConfigError, EngineError
from .faults.state import FaultState, state_dir
from .resources import data_root, environment_file
from .stack import Stack, compose, images, reaper
from .stack.backend import DockerBackend, connect, engine_error
from .stack.model import LABEL_ENV
from .topology import check_run_id, load


def _progress(message: str) -> None:
    print(f"azchaos: {message}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """Bad usage is one line (and exit status 2), not a usage screen; --help still shows it all."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="azchaos", description="Chaos-engineering of multi-AZ stacks: build, start, inspect, stop."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} (pytest-azchaos)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    env_help = "environment file, or the name of a bundled one (default: default)"

    build = sub.add_parser("images", help="build the images an environment needs")
    build.add_argument("action", choices=["build"])
    build.add_argument("--env", default="default", help=env_help)
    build.add_argument("--mode", choices=images.MODES, default="auto", help="where images come from")

    up = sub.add_parser("up", help="start a stack and leave it running")
    up.add_argument("--env", default="default", help=env_help)
    up.add_argument("--run-id", type=_run_id, help="the run id to use (default: a new random one)")
    up.add_argument("--images", choices=images.MODES, default="auto", help="where images come from")

    down = sub.add_parser("down", help="remove a stack (or every stack with --all)")
    which = down.add_mutually_exclusive_group()
    which.add_argument("--run-id", help="the stack to remove (default: the only one running)")
    which.add_argument("--orphans", action="store_true",
                       help="remove only the stacks whose owner process died on this host, or ended when it "
                            "restarted (safe beside live runs)")
    which.add_argument("--all", action="store_true", help="remove every object labelled azchaos.run")

    engine = sub.add_parser("engine", help="check that a Docker engine answers; on Debian as root, install "
                                           "and start dockerd if none does")
    engine.add_argument("--check", action="store_true", help="only check, change nothing")

    export = sub.add_parser("export", help="export an environment as a Docker Compose file")
    export.add_argument("format", choices=["compose"])
    export.add_argument("--env", default="default", help=env_help)
    export.add_argument("--images", choices=images.MODES, default="offline", help="where images come from")
    export.add_argument("-o", "--output", help="write to this file (default: standard output)")

    cli_faults.add_parsers(sub, "the stack (default: the only one running)")
    cli_gameday.add_parser(sub)
    cli_report.add_parser(sub)

    listing = sub.add_parser("list", aliases=["ls"], help="list the stacks on the engine: their containers, "
                             "networks and owner (live, kept, or left behind)")
    listing.add_argument("--json", action="store_true", help="print JSON")

    status = sub.add_parser("status", help="show a stack's containers, health, endpoints and active faults")
    status.add_argument("--run-id", help="the stack to show (default: the only one running)")
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _run_id(value: str) -> str:
    """An argparse type: a bad run id is a usage error (exit 2), before the engine is asked."""
    try:
        return check_run_id(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _only_run(backend: DockerBackend, run_id: str | None) -> str:
    if run_id:
        check_run_id(run_id)
        if run_id not in backend.runs():
            running = ", ".join(sorted(backend.runs())) or "none"
            raise ConfigError(f"no stack with run id {run_id!r} is running (running: {running}; see 'azchaos status')")
        return run_id
    runs = sorted(backend.runs())
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise ConfigError("no azchaos stack is running (start one with 'azchaos up')")
    raise ConfigError(f"{len(runs)} stacks are running ({', '.join(runs)}); choose one with --run-id "
                      "('azchaos list' shows them)")


def _images(args: argparse.Namespace) -> int:
    topo = load(environment_file(args.env))
    image_set = images.ImageSet(topo.images_dir, mode=args.mode, progress=_progress)
    names = Stack(topo, backend=DockerBackend(), progress=_progress).image_names()
    for name in dict.fromkeys(names.values()):
        print(f"{name}: {image_set.ensure(name)}")
    return 0


def _up(args: argparse.Namespace) -> int:
    topo = load(environment_file(args.env))
    backend = DockerBackend()
    if args.run_id and args.run_id in backend.runs():
        raise ConfigError(f"a stack with run id {args.run_id!r} exists already; choose another run id, "
                          f"or remove it with 'azchaos down --run-id {args.run_id}'")
    stack = Stack(topo, run_id=args.run_id, backend=backend, images_mode=args.images, progress=_progress)
    with reaper.Guard(backend, stack.run_id, _progress):  # removes a half-started stack if this command is killed
        stack.up()
        backend.mark_kept(stack.run_id)  # from now on it outlives this command, on purpose
    print(json.dumps({"run_id": stack.run_id, "endpoints": stack.endpoints()}, indent=2))
    return 0


def _down(args: argparse.Namespace) -> int:
    backend = DockerBackend()
    if args.orphans:
        if not reaper.sweep(backend, _progress):
            _progress("no stack left behind by a process that ended")
        return 0
    run_ids = sorted(backend.runs()) if args.all else [_only_run(backend, args.run_id)]
    for run_id in run_ids:
        removed = backend.remove_run(run_id)
        shutil.rmtree(state_dir() / run_id, ignore_errors=True)  # its recorded faults went with it
        _progress(f"removed stack {run_id} ({removed} objects)")
    if not run_ids:
        _progress("nothing to remove")
    return 0


def _list(args: argparse.Namespace) -> int:
    backend = DockerBackend()
    owners = reaper.standing(backend)
    rows = [{"run_id": run, "environment": found["labels"].get(LABEL_ENV, ""), "containers": found["containers"],
             "running": found["running"], "networks": found["networks"], "owner": owners.get(run, "")}
            for run, found in sorted(backend.run_objects().items())]
    for row in rows:
        if row["owner"].startswith(reaper.KEPT) and row["running"] < row["containers"]:
            # After the machine restarts, or a fault by 'azchaos fault': either way, this brings it back.
            row["owner"] += f"; 'azchaos heal --all --run-id {row['run_id']}' starts the rest"
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no azchaos stack on this engine")
    else:
        print(f"{'RUN':<14} {'ENVIRONMENT':<16} {'CONTAINERS':<14} {'NETWORKS':<9} OWNER")
        for row in rows:
            containers = f"{row['running']} of {row['containers']} up"
            print(f"{row['run_id']:<14} {Path(row['environment']).stem or '?':<16} {containers:<14} "
                  f"{row['networks']:<9} {row['owner']}")
    return 0


def _status(args: argparse.Namespace) -> int:
    backend = DockerBackend()
    stack = Stack.attach(_only_run(backend, args.run_id), backend=backend, progress=_progress)
    status = stack.status()
    status["faults"] = FaultState(stack.run_id).records()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"stack {status['run_id']} ({status['environment']}), AZs: {', '.join(status['azs'])}")
    for row in status["members"]:
        health = "healthy" if row["healthy"] else "UNHEALTHY"
        print(f"  {row['az']:<7} {row['role']:<12} {row['container']:<36} {row['state']:<10} {health}")
    for role, facts in status["roles"].items():
        print(f"  {role}: {json.dumps(facts)}")
    for name, url in status["endpoints"].items():
        print(f"  endpoint {name}: {json.dumps(url) if isinstance(url, dict) else url}")
    for record in status["faults"]:
        until = "" if record["expires_at"] is None else f", heals at {time.ctime(record['expires_at'])}"
        print(f"  fault {record['id']}: {record['subject']} since {time.ctime(record['injected_at'])}{until}")
    if not status["faults"]:
        print("  no active fault (from 'azchaos fault')")
    return 0


def _fault(args: argparse.Namespace) -> int:
    return cli_faults.fault(args, cli_faults.attach(args.run_id, _only_run, _progress), _progress)


def _heal(args: argparse.Namespace) -> int:
    return cli_faults.heal(args, cli_faults.attach(args.run_id, _only_run, _progress), _progress)


def _engine(args: argparse.Namespace) -> int:
    """Check the Docker engine; where none answers, run the bundled setup (Debian, root)."""
    try:
        client = connect(timeout_s=10)
    except EngineError as exc:
        if args.check:
            raise
        script = data_root() / "scripts" / "ensure-docker.sh"
        if not script.is_file():
            raise EngineError(f"{exc}; the engine setup script is not installed ({script})") from None
        _progress(f"no Docker engine answers; running {script}")
        if subprocess.call(["bash", str(script)], env=dict(os.environ)) != 0:
            raise EngineError(f"{script} could not start a Docker engine (see its messages above)") from None
        client = connect(timeout_s=10)
    version = client.version()
    print(f"Docker engine {version.get('Version', '?')} answers at {client.api.base_url}")
    return 0


def _export(args: argparse.Namespace) -> int:
    topo = load(environment_file(args.env))
    stack = Stack(topo, backend=DockerBackend(), images_mode=args.images, progress=_progress)
    text = compose.export(stack, stack.resolve_images())
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        _progress(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


COMMANDS = {"gameday": lambda args: cli_gameday.gameday(args, _only_run, _progress),
            "images": _images, "up": _up, "down": _down, "status": _status, "export": _export,
            "list": _list, "ls": _list, "fault": _fault, "heal": _heal, "engine": _engine, "report": cli_report.run}


def _joined_values(argv: list[str]) -> list[str]:
    """``--for -5s`` as ``--for=-5s``: argparse would take a value starting with '-' for an option
    and say "expected one argument"; joined, the value reaches the duration check and its message."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--for" and arg.startswith("-"):
            joined[-1] = f"--for={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    """Run the azchaos command; return its exit code."""
    args = _parser().parse_args(_joined_values(sys.argv[1:] if argv is None else list(argv)))
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):  # heal a '--for' fault on SIGTERM too
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return COMMANDS[args.command](args)
    except AzChaosError as exc:
        print(f"azchaos: error: {exc}", file=sys.stderr)
        return 2
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        # A call not yet made through the backend's engine_call: still one line, never a traceback.
        print(f"azchaos: error: {engine_error(f'azchaos {args.command}', exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("azchaos: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
