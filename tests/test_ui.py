"""A real browser: Debian's chromium, driven by playwright-core, runs chapter 04 in JupyterLab and opens a run's report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from labkit import emulator_control
from labkit.emulator_control import free_port

UI_DIR = Path(__file__).resolve().parent / "ui"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                ".ci/run installs it so CI never skips this)"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="Node.js and npm drive the browser"),
]


@pytest.fixture(scope="module")
def driver() -> Path:
    """tests/ui/node_modules from the lock file (npm's shared cache; no browser is downloaded)."""
    if not (UI_DIR / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=UI_DIR,
                       check=True, capture_output=True, timeout=300)
    return UI_DIR / "drive.mjs"


@pytest.fixture
def shots(tmp_path) -> Path:
    """Screenshots go to the test's output dir (LABKIT_UI_SHOTS keeps them somewhere of your choice)."""
    folder = Path(os.environ.get("LABKIT_UI_SHOTS") or tmp_path / "screenshots") / uuid.uuid4().hex[:6]
    folder.mkdir(parents=True)
    return folder


def drive(driver: Path, *args: str, timeout: float = 600) -> dict:
    done = subprocess.run(["node", str(driver), *args], cwd=UI_DIR, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CHROMIUM": CHROMIUM})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the driver printed no result: {done.stdout}\n{done.stderr}"
    return json.loads(lines[-1])


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab headless on a free loopback port, over a copy of the notebooks, with a fresh emulator."""
    state_dir = tmp_path / "state"
    info = emulator_control.start(state_dir, free_port())
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "conftest.py"))
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell stays in the page (JupyterLab 4 otherwise drops off-screen cells from the DOM).
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), uuid.uuid4().hex
    env = {**os.environ, "LABKIT_STATE_DIR": str(state_dir), "LABKIT_PORT": str(info.port),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.pop("LABKIT_HEADLESS", None)  # the widgets must be live: this is what a learner sees
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "jupyterlab.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.5)
        yield lambda notebook: f"{base}/lab/tree/{notebook}?token={token}"
    finally:
        end_session(server)
        log.close()
        emulator_control.stop(state_dir)


def end_session(server: subprocess.Popen) -> None:
    """End JupyterLab and the kernels it started: its own session, by its pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def chapter(number: str) -> str | None:
    return next((p.name for p in sorted(NOTEBOOKS.glob(f"{number}-*.ipynb"))), None)


def test_a_runs_report_opens_in_chromium(driver, shots, tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from labkit.runner import RunOptions, run_series

    folder = tmp_path / "chapters"
    folder.mkdir()
    notebook = new_notebook(cells=[new_code_cell('PREFIX = "labkit"', metadata={"tags": ["parameters"]}),
                                   new_code_cell("print('green', PREFIX)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "00-green.ipynb")
    saved = dict(os.environ)
    try:
        run_series(RunOptions(output=tmp_path / "out", prefix="uitest", notebooks_dir=folder,
                              state_dir=tmp_path / "state", teardown=False, progress=False))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result = drive(driver, "page", (tmp_path / "out" / "report.html").as_uri(), str(shots))
    assert result["ok"], result
    assert result["verdict"].startswith("labkit run: all green")
    assert [row.split("\t")[:2] for row in result["rows"]] == [["00-green", "✔ passed"]]
    assert (shots / "report.png").stat().st_size > 0


def test_chapter_04_pipeline_view_turns_succeeded_in_jupyterlab(driver, shots, jupyterlab):
    result = drive(driver, "chapter", jupyterlab(chapter("04")), str(shots), "300")
    assert result.get("errors") == [], result
    assert result["ok"], result
    assert "Succeeded" in result["widget"] and "Source" in result["widget"]
    assert (shots / "pipeline-view.png").exists()


@pytest.mark.skipif(chapter("05") is None, reason="chapter 05 (approvals, ApprovalPanel) is not in the course yet")
def test_chapter_05_approve_button_moves_the_pipeline_on(driver, shots, jupyterlab):
    result = drive(driver, "approve", jupyterlab(chapter("05")), str(shots), "420")
    assert result["ok"] and result.get("errors") == [], result
    assert (shots / "after-approve.png").exists()
