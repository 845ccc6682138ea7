"""A build's processes and work dirs: ending every process a build started, pruning old work dirs."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import deque
from pathlib import Path

KEEP_WORK_DIRS = int(os.environ.get("LABKIT_CODEBUILD_KEEP_WORKDIRS", "20"))
# Builds that run at once on this machine; later ones wait in QUEUED, as on AWS at its limits.
MAX_RUNNING_BUILDS = int(os.environ.get("LABKIT_CODEBUILD_MAX_RUNNING", "4"))
build_slots = threading.BoundedSemaphore(MAX_RUNNING_BUILDS)
_finished_dirs: deque[Path] = deque()
_finished_lock = threading.Lock()


def end_process_groups(pgids: list[int], close_shell) -> None:
    """SIGTERM the shells' process groups (so what commands left in the background ends too),
    reap the shell, then SIGKILL whatever is still alive after a short grace."""
    import signal

    import psutil

    def signal_all(sig) -> None:
        for pgid in pgids:
            try:
                if pgid != os.getpgrp():
                    os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def alive() -> bool:
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if os.getpgid(proc.pid) in pgids and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    return True
            except (ProcessLookupError, psutil.Error):
                continue
        return False

    signal_all(signal.SIGTERM)
    close_shell()
    deadline = time.monotonic() + 1.0
    while alive():
        if time.monotonic() >= deadline:
            signal_all(signal.SIGKILL)
            break
        time.sleep(0.02)


def prune(work_dir: Path) -> None:
    """Keep the work dirs of the last KEEP_WORK_DIRS finished builds; delete older ones."""
    with _finished_lock:
        _finished_dirs.append(work_dir)
        old = [
            _finished_dirs.popleft() for _ in range(max(0, len(_finished_dirs) - KEEP_WORK_DIRS))
        ]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
