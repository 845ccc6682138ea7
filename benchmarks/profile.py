"""Figure 6: where the round trip's time goes: stage and build-phase times of one push, the CPU
the emulator spent beside its child processes, and a py-spy sample of the emulator's own work."""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from benchmarks.course_pipeline import make_pipeline, push_round_trip
from benchmarks.harness import lab_on, own_emulator
from labkit.procs import end_process_tree
from labkit.services import codebuild


def build_phases(lab, project: str) -> dict:
    build = codebuild.latest_build(lab, project)
    return {p["phaseType"]: round((p["endTime"] - p["startTime"]).total_seconds(), 2)
            for p in build["phases"] if "endTime" in p}


def cpu_seconds(pid: int) -> dict:
    """The emulator's own CPU, and that of its children it has reaped (builds, hooks, npm)."""
    times = psutil.Process(pid).cpu_times()
    return {"emulator": times.user + times.system,
            "children": times.children_user + times.children_system}


def label(frame: str) -> str:
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].rsplit('/', 1)[-1].rstrip(')')})"


def hottest(raw_file: Path, top: int = 8) -> dict:
    """From py-spy's collapsed stacks: functions by share of samples (inclusive), and leaves."""
    inclusive, leaves, total = collections.Counter(), collections.Counter(), 0
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # "function (path/file.py:line)" → "function (file.py)"; thread plumbing is left out.
        frames = [label(f) for f in stack.split(";")[1:] if "threading.py" not in f]
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        if frames:
            leaves[frames[-1]] += samples
    share = lambda counter: {f: round(100 * n / total, 1) for f, n in counter.most_common(top)}  # noqa: E731
    return {"samples": total, "inclusive_percent": share(inclusive), "self_percent": share(leaves)}


def measure() -> dict:
    with own_emulator() as info, lab_on(info) as lab:
        pipeline = make_pipeline(lab)
        before = cpu_seconds(info.pid)
        spy, raw = start_py_spy(info.pid)
        try:
            trip = push_round_trip(lab, pipeline, "Profiled push.")
        finally:
            samples = stop_py_spy(spy, raw)
        after = cpu_seconds(info.pid)
        phases = build_phases(lab, pipeline["names"].pipeline_build_project)
    return {"round_trip_seconds": round(trip["seconds"], 2), "stages": trip["stages"],
            "build_phases": phases,
            "cpu_seconds": {k: round(after[k] - before[k], 2) for k in after},
            "py_spy": samples}


def start_py_spy(pid: int) -> tuple[subprocess.Popen | None, Path | None]:
    """`py-spy record` on the emulator (skipped when py-spy is not installed)."""
    executable = shutil.which("py-spy")
    if not executable:
        return None, None
    raw = Path(tempfile.mkdtemp(prefix="labkit-spy-")) / "emulator.txt"
    spy = subprocess.Popen([executable, "record", "--pid", str(pid), "--rate", "100",
                            "--format", "raw", "--nonblocking", "--output", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    return spy, raw


def stop_py_spy(spy: subprocess.Popen | None, raw: Path | None) -> dict:
    if spy is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        end_process_tree(spy.pid)
        spy.wait(timeout=10)
    try:
        if not raw.exists():
            return {"skipped": f"py-spy wrote nothing (exit {spy.returncode}); "
                               "it may lack permission to read the emulator's memory"}
        return hottest(raw)
    finally:
        shutil.rmtree(raw.parent, ignore_errors=True)
