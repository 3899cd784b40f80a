"""Which process wrote a record, and whether it still runs: how a run tells a run that was
killed (SIGKILL, a power cut) from one that is alive, to finish what the dead one left
open (its events in progress, the ends of its alerts).

A process id alone is not enough: after a reboot, or in a container, the next run often
gets the dead run's id again (helper-54: the events it was hearing were then never
stored). So a record also holds the machine's boot id and the process's start time
(Linux's ``/proc``): another boot, or another process under the same id, means the
recorded one is gone. Where ``/proc`` does not tell (another system), the id alone
decides, as before.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


def this_process() -> dict:
    """This process, as a record holds it: ``pid``, ``host``, and where known
    ``boot_id`` and ``started_ticks`` (its start, in clock ticks after boot)."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "boot_id": boot_id(),
            "started_ticks": started_ticks(pid)}


def process_gone(process: dict) -> bool:
    """True when ``process`` (a :func:`this_process` record) names a process of this
    machine that no longer runs: its id is free, or taken by another process (another
    start time), or the machine has booted since. False when it runs, is another
    machine's, or is not known."""
    host, pid = process.get("host"), process.get("pid")
    if host != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    recorded_boot = process.get("boot_id")
    if recorded_boot and boot_id() not in (None, recorded_boot):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # someone else's process: alive, unless the start time says otherwise
        pass
    recorded_start = process.get("started_ticks")
    now_start = started_ticks(pid)
    return recorded_start is not None and now_start is not None and now_start != recorded_start


def boot_id() -> str | None:
    """This boot's id (Linux), or None where it is not known."""
    try:
        return BOOT_ID_PATH.read_text().strip() or None
    except OSError:
        return None


def started_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (Linux's
    ``/proc/PID/stat`` field 22), or None where it is not known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (name) ": field 3 on
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None
