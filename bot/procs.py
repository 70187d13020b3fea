"""Child processes the hotline starts itself (the demo's worker): each in its own process group, stopped whole.

`python worker.py` is one process, but RQ forks a scheduler child; `terminate()`
on the parent alone, without waiting, left either of them running after
`hotline demo` ended -- retrying a Redis that was already stopped, forever.
`stop_group` signals the whole group, waits, and kills what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess

STOP_TIMEOUT_S = 10.0
"""How long a group gets to finish its current job after SIGTERM before SIGKILL."""


def start_group(args: list[str], **popen) -> subprocess.Popen:
    """Start a child as the leader of a new process group (so its own children can be stopped with it)."""
    return subprocess.Popen(args, start_new_session=True, **popen)


def stop_group(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the child's whole process group, wait for the child, then SIGKILL the group (leftovers too)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group is already gone
        process.wait()
        return
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a forked child still in the group (RQ's scheduler)
    except ProcessLookupError:
        pass
    process.wait()
