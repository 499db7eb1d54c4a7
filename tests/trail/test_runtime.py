"""`runtime.route_stop_signals()`: SIGINT and SIGTERM reach the main thread's handler
whatever thread the kernel hands them to. Each case runs in a child process (the routing
changes the whole process's signal mask).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, child_env
from trail.runtime import IN_ORDER_WAIT

# The child routes its stop signals, installs a handler (unless "default"), keeps four
# threads busy (each can take a process-directed signal) and waits: untimed on an Event
# as granian's processes do, or running Python code ("default": KeyboardInterrupt needs
# bytecode to run). It prints the signals its handler saw.
CHILD = """
import os, signal, sys, threading, time
from trail import runtime

mode = sys.argv[1]
runtime.route_stop_signals(supervisor=os.getppid() if mode == "worker" else None)
seen, stopped = [], threading.Event()

def handler(signum, frame):
    seen.append(signal.Signals(signum).name)
    stopped.set()

if mode != "default":
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)

def busy():
    while True:
        time.sleep(0.0001)

for _ in range(4):
    threading.Thread(target=busy, daemon=True).start()
print("ready", flush=True)
if mode == "default":
    end = time.monotonic() + 20
    while time.monotonic() < end:
        pass
else:
    stopped.wait()
    time.sleep(0.3)  # a later stop signal would show here
print(" ".join(seen), flush=True)
"""


@contextmanager
def routed_children(tmp_path: Path, mode: str, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` children started at once, each ready (routed, handler set, threads busy)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(count):
            procs.append(
                subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
                    [PYTHON, "-c", CHILD, mode],
                    cwd=REPO,
                    env=child_env(tmp_path),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@contextmanager
def routed_child(tmp_path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    with routed_children(tmp_path, mode, 1) as (proc,):
        yield proc


def finish(proc: subprocess.Popen[str], timeout: float = 5) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.strip(), err


def test_each_stop_signal_reaches_the_handler(tmp_path: Path) -> None:
    """20 children, SIGINT and SIGTERM in turn; five at a time (each one's start and its
    0.3 s watch for a second delivery need not wait for the others: 11 s one by one)."""
    for first in range(0, 20, 5):
        sigs = [signal.SIGINT if n % 2 == 0 else signal.SIGTERM for n in range(first, first + 5)]
        with routed_children(tmp_path, "server", len(sigs)) as procs:
            for proc, sig in zip(procs, sigs, strict=True):
                proc.send_signal(sig)
            for proc, sig in zip(procs, sigs, strict=True):
                assert finish(proc) == (0, sig.name, "")


def test_a_second_stop_signal_changes_nothing(tmp_path: Path) -> None:
    with routed_child(tmp_path, "server") as proc:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        assert finish(proc) == (0, "SIGINT", "")


def test_without_a_handler_sigterm_terminates(tmp_path: Path) -> None:
    with routed_child(tmp_path, "default") as proc:
        proc.send_signal(signal.SIGTERM)
        returncode, out, _ = finish(proc)
        assert (returncode, out) == (-signal.SIGTERM, "")


def test_without_a_handler_sigint_interrupts_the_main_thread(tmp_path: Path) -> None:
    with routed_child(tmp_path, "default") as proc:
        proc.send_signal(signal.SIGINT)
        returncode, _, err = finish(proc)
        assert returncode in (-signal.SIGINT, 128 + signal.SIGINT)  # Python's Ctrl-C exit
        assert err.strip().splitlines()[-1] == "KeyboardInterrupt"


def test_a_worker_acts_on_its_supervisors_sigterm(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the worker too; it waits for the supervisor's SIGTERM."""
    with routed_child(tmp_path, "worker") as proc:
        subprocess.run(["kill", "-INT", str(proc.pid)], check=True)  # noqa: S607 (not the parent)
        time.sleep(0.3)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)  # from the parent, its supervisor
        assert finish(proc) == (0, "SIGTERM", "")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_worker_without_word_from_its_supervisor_stops_anyway(
    tmp_path: Path, sig: signal.Signals
) -> None:
    with routed_child(tmp_path, "worker") as proc:
        started = time.monotonic()
        subprocess.run(["kill", f"-{sig.name[3:]}", str(proc.pid)], check=True)  # noqa: S607
        assert finish(proc) == (0, sig.name, "")
        assert IN_ORDER_WAIT <= time.monotonic() - started < IN_ORDER_WAIT + 3
