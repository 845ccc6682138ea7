"""Every process the emulator starts (builds, hook scripts, services on hosts), tracked by pid."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from labkit.procs import end_process_tree, pid_alive
from labkit.statedir import CHILDREN_FILE, write_json


class ProcessRegistry:
    """Starts processes in their own session and records their pids in the state dir.

    The record on disk lets `labkit emulator stop` end them even if the emulator died.
    """

    def __init__(self, state_dir: Path):
        self._file = state_dir / CHILDREN_FILE
        self._lock = threading.Lock()
        self._children: dict[int, dict] = {}

    def spawn(self, args, *, owner: str, **popen_kwargs) -> subprocess.Popen:
        popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(args, start_new_session=True, **popen_kwargs)
        self.adopt(proc.pid, owner)
        return proc

    def adopt(self, pid: int, owner: str) -> None:
        """Track a process started elsewhere (e.g. a service a hook script put in the background)."""
        with self._lock:
            self._children[pid] = {"pid": pid, "owner": owner, "since": time.time()}
            self._save()

    def forget(self, pid: int) -> None:
        with self._lock:
            self._children.pop(pid, None)
            self._save()

    def pids(self, owner_prefix: str = "") -> list[int]:
        with self._lock:
            return [p for p, c in self._children.items() if c["owner"].startswith(owner_prefix)]

    def end(self, owner_prefix: str = "", grace: float = 3.0) -> int:
        """End every tracked process whose owner starts with `owner_prefix`; return how many."""
        ended = 0
        for pid in self.pids(owner_prefix):
            if pid_alive(pid):
                end_process_tree(pid, grace=grace)
                ended += 1
            self.forget(pid)
        return ended

    def _save(self) -> None:
        write_json(self._file, {"children": list(self._children.values())})
