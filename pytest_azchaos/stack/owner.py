"""Which process owns a run, named exactly enough to prove, later, that it died.

A PID alone is not enough: PIDs are reused, and another container sees other PIDs. The
token names the host, the machine, the boot, the PID namespace, the PID and the process's
start time. A process is provably dead when the boot and namespace are ours and that PID no
longer has that start time (:func:`owner_dead`), or when it ran on this machine in an earlier
boot (:func:`earlier_boot`; with a caveat for cloned machines, said there).
"""

from __future__ import annotations

import os
import socket


def alive(pid: int) -> bool:
    """Return True if process ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _host_identity() -> tuple[str, str] | None:
    """Return (boot id, PID namespace) of this process, or None where /proc does not tell."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            return boot.read().strip(), os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _machine_id() -> str:
    """Return this installation's machine id (systemd's, kept across reboots); "" where there is none."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as machine:
                found = machine.read().strip()
        except OSError:
            continue
        if found:
            return found
    return ""


def _start_ticks(pid: int) -> str | None:
    """Return the start time of ``pid`` (clock ticks since boot): with the PID, it names one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def owner_token(pid: int | None = None) -> str:
    """Return the ``azchaos.owner`` label naming process ``pid`` (default: this one); "" where unknown."""
    pid = pid or os.getpid()
    identity, ticks = _host_identity(), _start_ticks(pid)
    if identity is None or ticks is None:
        return ""
    boot, pidns = identity
    return f"host={socket.gethostname()};machine={_machine_id()};boot={boot};pidns={pidns};pid={pid};start={ticks}"


def _fields(token: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in token.split(";") if "=" in part)


def owner_pid(token: str) -> int | None:
    """Return the PID that the ``azchaos.owner`` label ``token`` names; None for an empty or unreadable one."""
    pid = _fields(token).get("pid", "")
    return int(pid) if pid.isdigit() else None


def owner_dead(token: str) -> bool:
    """Return True only if the owner named by ``token`` provably no longer runs.

    False for an empty or unreadable token, another boot or host, or another PID namespace
    (another container): there the PID says nothing."""
    fields = _fields(token)
    identity = _host_identity()
    if identity is None or not fields.get("pid", "").isdigit() or not fields.get("start"):
        return False
    if (fields.get("boot"), fields.get("pidns")) != identity:
        return False
    pid = int(fields["pid"])
    ticks = _start_ticks(pid)
    if ticks is None and alive(pid):
        return False  # e.g. /proc mounted with hidepid: another user's process we cannot read
    return ticks != fields["start"]  # gone, a zombie, or the PID now belongs to another process


def earlier_boot(token: str) -> bool:
    """Return True if the owner named by ``token`` ran on this machine in an earlier boot, which
    ended it: the host name and machine id are ours (both known), the boot id is not.

    The boot id is the kernel's, shared by every container on it, so a token of another boot
    was written by another kernel. Which one the name and machine id cannot prove alone: a
    cloned virtual machine keeps both. The sweep also asks that the engine runs here and that
    none of the run's containers runs (:func:`pytest_azchaos.stack.reaper.orphans`)."""
    fields = _fields(token)
    identity, machine = _host_identity(), _machine_id()
    if identity is None or not machine or not fields.get("boot"):
        return False
    return (fields.get("host") == socket.gethostname() and fields.get("machine") == machine
            and fields["boot"] != identity[0])


def describe(token: str) -> str:
    """Say who the owner named by ``token`` is, as far as this process can tell (``azchaos list``)."""
    fields = _fields(token)
    pid, host = fields.get("pid", ""), fields.get("host", "")
    identity = _host_identity()
    if not pid.isdigit() or identity is None:
        return "unknown owner"
    if host != socket.gethostname():
        return f"process {pid} on host {host or '?'}"
    if fields.get("boot") != identity[0]:
        return f"process {pid} of another boot of host {host}"
    if fields.get("pidns") != identity[1]:
        return f"process {pid} in another container of this host"
    if owner_dead(token):
        return f"process {pid}, which died"
    return f"process {pid} ({_command_name(int(pid))})"


def _command_name(pid: int) -> str:
    """Return the command line of ``pid``, shortened (what a user recognises: pytest, azchaos up)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = [arg.decode(errors="replace") for arg in cmdline.read().split(b"\0") if arg]
    except OSError:
        return "?"
    # The interpreter and its script by name: "python3 pytest tests", not two venv paths.
    words = [os.path.basename(arg) if at < 2 and "/" in arg else arg for at, arg in enumerate(args)]
    text = " ".join(words) or "?"
    return text if len(text) <= 60 else text[:57] + "..."
