"""Figure 3: each chapter's duration under `labkit run` on the local backend, and the series;
the emulator's resident memory idle and after the course (part of figure 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import own_emulator, resident_mb, timed


def measure(chapters: str | None = None) -> dict:
    """`labkit run` (as a learner types it) against a fresh emulator of our own."""
    with own_emulator() as info, tempfile.TemporaryDirectory(prefix="labkit-course-") as output:
        idle_mb = resident_mb(info.pid)
        env = {**os.environ, "LABKIT_STATE_DIR": str(info.state_dir), "LABKIT_PORT": str(info.port)}
        command = [sys.executable, "-m", "labkit", "run", "--output", output, "--no-progress",
                   *(["--chapters", chapters] if chapters else [])]
        seconds, done = timed(lambda: subprocess.run(command, env=env, capture_output=True,
                                                     text=True, timeout=1200))
        after_mb = resident_mb(info.pid)
        summary_file = Path(output) / "summary.json"
        if not summary_file.exists():
            raise RuntimeError(f"labkit run wrote no summary:\n{done.stdout}\n{done.stderr}")
        summary = json.loads(summary_file.read_text())
    rows = {c["chapter"]: {"seconds": c["seconds"], "status": c["status"]}
            for c in summary["chapters"]}
    # `labkit run` also tears the lab down after the last chapter: series = chapters + teardown.
    return {"chapters": rows, "chapters_seconds": round(sum(r["seconds"] for r in rows.values()), 1),
            "series_seconds": round(seconds, 1), "exit_code": done.returncode,
            "emulator_memory_mb": {"idle": idle_mb, "after_course": after_mb}}
