"""Why an SLO broke: the state of the region, read from the timeline, when operations went wrong.

Jepsen says what the nemesis did when a checker fails; this says what the region
looked like when each bad operation happened: which faults were active, which app
targets the watch saw unhealthy, whether the DB had a leader and a synchronous
standby, which DB node the endpoint sent to, and what the load balancer itself
logged about the replica a failed request went to while it ran ("LB marked app-a-1
failed: timed out (reading response header)"). Checks append these explanations to
their messages, e.g.::

    6 writes acknowledged while the DB had no synchronous standby (-4.1 s to +0.0 s
    after inject outage(a, power)): asynchronous commits lost with the primary
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .history import Operation
from .timeline import DB_LEADER, ENDPOINT, FAILOVER, HEAL, INJECT, LB, LB_ALERT, NO_SYNC, SYNC, TARGET, Event, Timeline


def state_at(events: Sequence[Event], t: float) -> tuple[str, ...]:
    """What was wrong with the region at monotonic time ``t``, as the timeline tells it."""
    active: dict[str, None] = {}
    unhealthy: dict[str, None] = {}
    db: dict[tuple[str, str], str] = {}  # (kind, DB service) -> the last detail
    for event in events:
        if event.mono > t:
            break
        if event.kind == INJECT:
            active[event.subject] = None
        elif event.kind == HEAL:
            active.pop(event.subject, None)
        elif event.kind == TARGET and event.detail == "unhealthy":
            unhealthy[event.subject] = None
        elif event.kind == TARGET:
            unhealthy.pop(event.subject, None)
        elif event.kind in (DB_LEADER, SYNC, ENDPOINT):
            db[(event.kind, event.subject)] = event.detail
        elif event.kind == FAILOVER:
            db.pop((DB_LEADER, event.subject), None)
    state = [f"during {subject}" for subject in active]
    state += [f"while target {alias} was unhealthy" for alias in unhealthy]
    bad = {(DB_LEADER, "no leader"): "had no leader", (SYNC, NO_SYNC): f"had {NO_SYNC}",
           (ENDPOINT, "to none"): "had no node behind its endpoint"}
    state += [f"while {service} {bad[(kind, detail)]}" for (kind, service), detail in db.items()
              if (kind, detail) in bad]
    return tuple(state)


def began_while(op: Operation, injects: Sequence[Event]) -> tuple[str, ...]:
    """The faults injected while ``op`` was under way: ("under way when outage(a, power) began",).

    A request sent just before a fault and answered after it failed because of it; by its
    scheduled time alone the timeline shows nothing wrong (a loaded host widens that moment)."""
    return tuple(f"under way when {e.subject} began" for e in injects if op.scheduled < e.mono <= op.end)


# An LB event sums the target's log lines of about a second from its time (the lb role's ErrorLogLook).
LB_EVENT_S = 1.0


def lb_saw(op: Operation, lb_events: Sequence[Event]) -> tuple[str, ...]:
    """What the LB logged about the targets ``op`` went to while it ran, from ``LB`` events:
    ("LB marked app-a-1 failed: timed out (reading response header)",); and about itself, from
    ``LB_ALERT`` events, whatever the target: ("LB alert: worker process exited on signal 9",)."""
    tried = (op.upstream or "").split(" > ")
    seen: dict[str, str] = {}
    for event in lb_events:
        if not op.scheduled - LB_EVENT_S <= event.mono <= op.end:
            continue
        if event.kind == LB_ALERT:
            seen.setdefault(f"{LB_ALERT} {event.subject}", f"LB alert: {event.detail.rpartition(', ')[0]}")
        elif event.subject in tried:
            seen.setdefault(event.subject, _lb_phrase(event))
    return tuple(seen.values())


def _lb_phrase(event: Event) -> str:
    """ "marked failed: timed out (...), 3 failures" -> "LB marked app-a-1 failed: timed out (...)"."""
    what, _, reason = event.detail.rpartition(", ")[0].partition(": ")
    if what.startswith("no live upstreams"):
        return f"LB had no live upstreams ({event.subject})"
    verb = f"marked {event.subject} failed" if what == "marked failed" else f"saw {event.subject} fail"
    return f"LB {verb}" + (f": {reason}" if reason else "")


def causes(ops: Sequence[Operation], timeline: Timeline, *, at: str = "scheduled", most: int = 3,
           what: str | None = None) -> str:
    """Group ``ops`` by what they got (status or error), the LB targets they went to and the
    region's state at their time ``at`` ("scheduled" or "end") and what the LB logged about their
    targets while they ran: "100x read HTTP 504 from app-a-1 during outage(a, freeze), LB marked
    app-a-1 failed: timed out (reading response header) (+6.0 s to +10.2 s)"; the commonest
    ``most`` groups. Empty when it would only repeat the message: one group, during the faults
    alone, from no named target."""
    events = timeline.events
    lb_events = [e for e in events if e.kind in (LB, LB_ALERT)]
    injects = [e for e in events if e.kind == INJECT]
    groups: dict[tuple[str, str, tuple[str, ...]], list[Operation]] = {}
    for op in ops:
        got = what or (f"HTTP {op.status}" if op.status else (op.error or op.outcome))
        got += f" from {op.upstream}" if op.upstream else ""
        state = state_at(events, getattr(op, at)) + (began_while(op, injects) if at == "scheduled" else ())
        state += lb_saw(op, lb_events)
        groups.setdefault((op.kind, got, state), []).append(op)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    if len(ranked) == 1 and all(s.startswith("during ") for s in ranked[0][0][2]) and " from " not in ranked[0][0][1]:
        return ""  # one kind of failure during the fault(s): the message's window already says it
    parts = []
    for (kind, got, state), found in ranked[:most]:
        why = ", ".join(state) if state else "with no fault or unhealthy part on the timeline"
        parts.append(f"{len(found)}x {kind} {got} {why} ({span(found, events, at=at)})")
    if len(ranked) > most:
        parts.append(f"{sum(len(f) for _, f in ranked[most:])} more in {len(ranked) - most} other groups")
    return "; ".join(parts)


def span(ops: Sequence[Operation], events: Sequence[Event], *, at: str = "scheduled") -> str:
    """"+6.0 s to +10.2 s after inject outage(a, power)": the times of ``ops`` relative to the fault
    injected nearest after the first of them began... or the last one before it."""
    times = sorted(getattr(op, at) for op in ops)
    injects = [e for e in events if e.kind == INJECT]
    if not injects:
        return f"{times[-1] - times[0]:.1f} s long"
    before = [e for e in injects if e.mono <= times[0]]
    anchor = before[-1] if before else injects[0]
    return f"{times[0] - anchor.mono:+.1f} s to {times[-1] - anchor.mono:+.1f} s after inject {anchor.subject}"


def lost_cause(lost: Sequence[Operation], timeline: Timeline) -> str:
    """Attribute lost writes to the DB's state when they were acknowledged, e.g. no synchronous standby."""
    events = timeline.events
    unsynced = [op for op in lost if any(s.endswith(NO_SYNC) for s in state_at(events, op.end))]
    parts = []
    if unsynced:
        parts.append(f"{len(unsynced)} writes acknowledged while the DB had {NO_SYNC} "
                     f"({_ack_span(unsynced, events)}): asynchronous commits lost with the primary")
    rest = [op for op in lost if op not in unsynced]
    if rest:
        states = Counter(state_at(events, op.end) for op in rest).most_common(1)[0][0]
        why = ", ".join(states) if states else "while the timeline shows a synchronous standby and no fault"
        parts.append(f"{len(rest)} writes acknowledged {why} ({_ack_span(rest, events)})")
    return "; ".join(parts)


def _ack_span(ops: Sequence[Operation], events: Sequence[Event]) -> str:
    """Acknowledgement times relative to the first fault injected after the first of them (what lost them)."""
    times = sorted(op.end for op in ops)
    after = [e for e in events if e.kind == INJECT and e.mono >= times[0]]
    if not after:
        return span(ops, events, at="end")
    anchor = after[0]
    return f"{times[0] - anchor.mono:+.1f} s to {times[-1] - anchor.mono:+.1f} s, before inject {anchor.subject}"
