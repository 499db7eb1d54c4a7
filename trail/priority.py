"""CPU priority of the flush: on a box it shares with the web processes, ingest comes first.

Every accepted event is already durable in the spool, so the flush can wait for spare CPU;
a request cannot. The Celery worker lowers its own priority at start (`TRAIL_FLUSH_NICE`):
its niceness, and on Linux with automatic process grouping (`kernel.sched_autogroup_enabled`,
where a niceness only weighs against processes of the same session) its session group's
too when the worker leads its session (a container's or a service's process; one started
from a shell shares the shell's group with whatever else runs there, which is left alone).
Measured in docs/benchmarks.md. Lowering a priority needs no privilege; a refusal (a
read-only /proc in a container) is logged and ignored: the worker runs as it was.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def lower(nice: int) -> None:
    """Make this process (and the threads and children it starts next) at least `nice`."""
    if nice <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        group = autogroup_nice()
        if group is not None and group < nice and os.getsid(0) == os.getpid():
            AUTOGROUP.write_text(str(nice))
    except OSError as exc:
        logger.warning("could not lower the flush's CPU priority to nice %s: %s", nice, exc)


def autogroup_nice() -> int | None:
    """This process's autogroup niceness ("/autogroup-85 nice 0"), or None where it has none
    to show: no autogroups in the kernel, or a process still in the boot session's default
    group, for which the kernel prints nothing."""
    try:
        words = AUTOGROUP.read_text().split()
    except OSError:
        return None
    if len(words) != 3 or words[1] != "nice":
        return None
    try:
        return int(words[2])
    except ValueError:
        return None
