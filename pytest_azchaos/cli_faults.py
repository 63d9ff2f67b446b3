"""``azchaos fault ...`` and ``azchaos heal``: faults by hand on a running stack (game days).

Each injected fault is recorded per stack (faults/state.py), so that ``azchaos heal``
in another terminal, or ``azchaos status``, sees it. ``--for 60s`` keeps the command
running with a countdown and heals when the time is up, or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .errors import ConfigError, FaultError
from .faults import AZ_MODES, TOXICS, Fault, Nemesis
from .faults.instance import ACTIONS
from .faults.links import DIRECTIONS
from .faults.registry import FaultRegistry, default_registry
from .faults.restore import restore
from .faults.state import FaultState
from .stack import Stack
from .stack.backend import DockerBackend
from .timeline import Timeline
from .units import parse_duration


def add_parsers(sub: Any, run_help: str) -> None:
    """Add the ``fault`` and ``heal`` commands to the top-level subparsers."""
    fault = sub.add_parser("fault", help="inject a fault into a running stack (heal it with 'azchaos heal')")
    kinds = fault.add_subparsers(dest="fault", required=True, metavar="FAULT")
    outage = kinds.add_parser("outage", help="lose a whole AZ")
    outage.add_argument("az")
    outage.add_argument("--mode", choices=AZ_MODES, default="power", help="power (kill), freeze (pause), network")
    for action in ACTIONS:
        parser = kinds.add_parser(action, help=f"{action} a replica (app-a-1), a role (etcd) or db-primary")
        parser.add_argument("target")
    toxic = kinds.add_parser("toxic", help="add a Toxiproxy toxic to a link, e.g. a/app->db latency latency=200")
    toxic.add_argument("link")
    toxic.add_argument("type", choices=sorted(TOXICS))
    toxic.add_argument("attributes", nargs="*", metavar="KEY=VALUE", help="whole numbers, e.g. latency=200")
    toxic.add_argument("--toxicity", type=float, default=1.0, help="the share of connections affected (0..1)")
    toxic.add_argument("--direction", choices=DIRECTIONS, default="downstream")
    cut = kinds.add_parser("cut", help="cut a link: connections through it are refused")
    cut.add_argument("link")
    stress = kinds.add_parser("stress", help="a noisy neighbour: CPU and/or IO pressure, e.g. stress a --cpu 90%%")
    stress.add_argument("where", nargs="?", default="all", help="an AZ, a replica, a role, or all (default)")
    stress.add_argument("--cpu", default="0", help="share of the CPU taken away from each container, e.g. 90%%")
    stress.add_argument("--io", type=int, default=0, help="disk writer processes per container")
    custom = kinds.add_parser("custom", help="a fault type added by a plugin: TYPE key=value...")
    custom.add_argument("type")
    custom.add_argument("attributes", nargs="*", metavar="KEY=VALUE")
    for parser in (outage, toxic, cut, stress, custom, *(kinds.choices[a] for a in ACTIONS)):
        parser.add_argument("--for", dest="for_", metavar="DURATION", type=_duration,
                            help="heal after this long, e.g. 60s (at most 7 days)")
        parser.add_argument("--run-id", help=run_help)
    heal = sub.add_parser("heal", help="heal recorded faults (all, or one by id); --all also restores the stack")
    heal.add_argument("fault_id", nargs="?", metavar="FAULT_ID", help="e.g. f2 (see 'azchaos status')")
    heal.add_argument("--all", action="store_true",
                      help="heal every recorded fault, then undo anything else done to the stack")
    heal.add_argument("--run-id", help=run_help)


def _duration(value: str) -> str:
    """An argparse type: a bad --for is a usage error before the stack is even looked for."""
    try:
        parse_duration(value, what="--for")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def build(args: argparse.Namespace, registry: FaultRegistry) -> Fault:
    """Return the fault the command line describes (ConfigError for bad input)."""
    if args.fault == "outage":
        return registry.build("outage", {"az": args.az, "mode": args.mode})
    if args.fault in ACTIONS:
        return registry.build("instance", {"target": args.target, "action": args.fault})
    if args.fault == "toxic":
        attributes = sorted((k, _number(k, v)) for k, v in _pairs(args.attributes).items())
        return registry.build("toxic", {"link": args.link, "kind": args.type, "attributes": attributes,
                                        "toxicity": args.toxicity, "direction": args.direction})
    if args.fault == "cut":
        return registry.build("cut", {"link": args.link})
    if args.fault == "stress":
        return registry.build("stress", {"where": args.where, "cpu": args.cpu, "io": args.io})
    return registry.build(args.type, dict(_pairs(args.attributes)))


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, found {item!r}")
        pairs[key] = value
    return pairs


def _number(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"toxic attribute {key}: expected a whole number, found {value!r}") from None


def fault(args: argparse.Namespace, stack: Stack, progress: Any) -> int:
    registry = default_registry()
    injected = build(args, registry)
    duration_s = None if args.for_ is None else parse_duration(args.for_, what="--for")
    timeline = Timeline()
    nemesis = Nemesis(stack, timeline)
    active = nemesis.inject(injected)  # validates, waits for a steady stack, then changes it
    injected_event = timeline.first("inject")
    took_effect = injected_event.wall if injected_event else time.time()  # when it took effect
    record = registry.record(injected)
    if active.injected != injected:  # healing undoes what it hit, e.g. the old primary, not the new one
        record["heal"] = registry.record(active.injected)
    state = FaultState(stack.run_id)
    fault_id = state.add(record, subject=injected.subject, expires_in_s=duration_s, injected_at=took_effect)
    print(f"{fault_id} {injected.subject}")
    if duration_s is None:
        progress(f"{fault_id} stays until 'azchaos heal {fault_id}'")
        return 0
    try:
        _count_down(duration_s - (time.time() - took_effect), fault_id, progress)
    finally:  # the time is up, Ctrl-C or SIGTERM: heal
        _heal_record(stack, registry, state, state_record(state, fault_id), progress)
    return 0


def _count_down(duration_s: float, fault_id: str, progress: Any) -> None:
    end = time.monotonic() + duration_s
    while (left := end - time.monotonic()) > 0:
        print(f"\razchaos: {fault_id} heals in {left:5.0f} s (Ctrl-C heals now) ", end="", file=sys.stderr, flush=True)
        time.sleep(min(1.0, left))
    print(file=sys.stderr)


def state_record(state: FaultState, fault_id: str) -> dict[str, Any]:
    found = [r for r in state.records() if r["id"] == fault_id]
    if not found:
        known = ", ".join(r["id"] for r in state.records()) or "none"
        raise ConfigError(f"no recorded fault {fault_id!r} (recorded: {known})")
    return found[0]


def _heal_record(stack: Stack, registry: FaultRegistry, state: FaultState, record: dict[str, Any],
                 progress: Any) -> None:
    as_hit = record.get("heal", record)
    healed = registry.build(as_hit["type"], as_hit["fields"])
    progress(f"healing {record['id']} {record['subject']}")
    try:
        healed.heal(stack)
    except Exception as exc:
        raise FaultError(f"healing {record['id']} {record['subject']} failed: {exc}") from exc
    state.remove(record["id"])


def heal(args: argparse.Namespace, stack: Stack, progress: Any) -> int:
    registry, state = default_registry(), FaultState(stack.run_id)
    records = [state_record(state, args.fault_id)] if args.fault_id else list(reversed(state.records()))
    errors = []
    for record in records:
        try:
            _heal_record(stack, registry, state, record, progress)
        except FaultError as exc:
            errors.append(str(exc))
    if args.all:
        for line in restore(stack):
            progress(line)
        state.clear()
    if errors:
        raise FaultError("; ".join(errors))
    if not records and not args.all:
        progress("no recorded fault to heal ('azchaos heal --all' restores the stack anyway)")
    return 0


def attach(run_id: str | None, only_run: Any, progress: Any) -> Stack:
    backend = DockerBackend()
    return Stack.attach(only_run(backend, run_id), backend=backend, progress=progress)
