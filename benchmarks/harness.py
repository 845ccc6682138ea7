"""What every benchmark shares: an emulator of its own, a lab on it, timing and summary figures."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from labkit import emulator_control
from labkit.emulator_control import free_port

# Benchmarks talk to their own emulators only: dummy credentials, no profile, text widgets.
os.environ.update({"AWS_ACCESS_KEY_ID": "labkit-bench", "AWS_SECRET_ACCESS_KEY": "labkit-bench",
                   "AWS_DEFAULT_REGION": "us-east-1", "LABKIT_HEADLESS": "1"})
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "LABKIT_CONFIG"):
    os.environ.pop(_name, None)


@contextmanager
def own_emulator() -> Iterator[emulator_control.EmulatorInfo]:
    """A fresh emulator on a free port with a temp state dir; stopped and removed afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    try:
        info = emulator_control.start(state_dir, free_port())
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    try:
        yield info
    finally:
        emulator_control.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


@contextmanager
def lab_on(info: emulator_control.EmulatorInfo, prefix: str = "bench"):
    """`labkit.connect()` to `info`'s emulator; the environment it exports is restored after."""
    import labkit

    saved = dict(os.environ)
    os.environ["LABKIT_STATE_DIR"] = str(info.state_dir)
    try:
        yield labkit.connect(backend="local", port=info.port, state_dir=info.state_dir,
                             prefix=prefix)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def wait_until(check: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05) -> object:
    """Poll `check` until truthy, finely (the figures are about seconds); bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def spread(values: list[float]) -> dict:
    """Median, min, max and count of a series of seconds, rounded for reading."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": len(values)}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def resident_mb(pid: int) -> float:
    """Resident memory of one process (not its children: builds and services are apart)."""
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
