"""Concurrency guard: one `labkit run` per lab prefix at a time, by an exclusive lock in the state dir."""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from pathlib import Path

from labkit.errors import LabkitError


class RunLockHeld(LabkitError):
    """Another run holds the lock of this prefix."""


class PrefixLock:
    """`with PrefixLock(state_dir, prefix): ...` or raise RunLockHeld naming the holder.

    An flock is released by the kernel when its holder dies, so a crashed run never leaves
    a stale lock behind (a pid file alone would).
    """

    def __init__(self, state_dir: Path, prefix: str):
        self.prefix = prefix
        self.path = Path(state_dir) / "locks" / f"run-{prefix}.lock"
        self._handle = None

    def acquire(self) -> PrefixLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's description must survive our failed attempt.
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise RunLockHeld(
                f"Another labkit run ({holder}) is using prefix {self.prefix!r}; two runs must "
                f"never share a prefix. Wait for it to finish or pass another --prefix "
                f"(lock file {self.path})."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                              time.gmtime())}))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> PrefixLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(text: str) -> str:
    try:
        data = json.loads(text)
        return f"pid {data['pid']}, started {data['started']}"
    except (ValueError, KeyError, TypeError):
        return "pid unknown"


def prefix_for_run(run_id: str, base: str = "run") -> str:
    """A lab prefix of its own for a scheduled run on AWS, e.g. run id 9876543210 → 'run-9876543210'.

    Prefixes are 3-20 lowercase letters, digits and hyphens (they become part of bucket
    names), so a long run id keeps its last, most distinct digits.
    """
    cleaned = re.sub(r"[^a-z0-9]", "", str(run_id).lower())
    if not cleaned:
        raise LabkitError(f"Run id {run_id!r} has no letters or digits to make a prefix from.")
    room = 20 - len(base) - 1
    return f"{base}-{cleaned[-room:]}"
