"""Process helpers: is a pid alive, end a process group by pid. Never by name."""

from __future__ import annotations

import os
import signal
import time

import psutil


def pid_alive(pid: int | None) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def end_process_tree(pid: int, grace: float = 5.0) -> None:
    """SIGTERM a process, its process group and its descendants; SIGKILL what outlives `grace`."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    _signal_group(pid, signal.SIGTERM)
    for proc in family:
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p.pid) for p in family):
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    for proc in family:
        if pid_alive(proc.pid):
            _signal(proc, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    # Only a process that leads its own group (started with start_new_session) is
    # signalled as a group, so we never hit the caller's own group by accident.
    try:
        if os.getpgid(pgid) == pgid and pgid != os.getpgrp():
            os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
