"""`labkit run` of the whole course on a fresh emulator (make test-full: the nightly job's local twin)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from labkit import emulator_control
from labkit.notebook_refresh import free_port, headless_environment

pytestmark = [pytest.mark.full,
              pytest.mark.skipif(shutil.which("npm") is None, reason="the chapters build the sample app")]


def test_the_whole_series_runs_green_and_tears_down(tmp_path):
    state_dir = tmp_path / "state"
    info = emulator_control.start(state_dir, free_port())
    parameters = tmp_path / "parameters.yaml"
    parameters.write_text("SOLVE_EXERCISES: true\n")
    env = {**os.environ, **headless_environment(state_dir, info.port)}
    try:
        run = subprocess.run([sys.executable, "-m", "labkit", "run", "--no-progress",
                              "--output", str(tmp_path / "out"), "--parameters", str(parameters),
                              "--timeout-per-cell", "900"],
                             env=env, capture_output=True, text=True, timeout=3600)
    finally:
        emulator_control.stop(state_dir)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["ok"] and summary["failed"] == 0 and summary["passed"] == 11
    assert summary["teardown"]["status"] == "passed" and not summary["teardown"]["leftovers"]
    assert "all green" in (tmp_path / "out" / "report.html").read_text()
