"""The chapters run with papermill against a fresh emulator: chapter 04 on its own in `make test`;
every chapter on its own and twice in a row under `-m full` (`make test-full`)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import nbformat
import pytest

from labkit import emulator_control
from labkit.notebook_refresh import headless_environment
from labkit.runner import find_chapters

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = {p.name[:2]: p for p in find_chapters(NOTEBOOKS)}
pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="the chapters build the sample app")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_emulator(tmp_path):
    """An emulator of the test's own (the chapters expect a lab nobody else touched)."""
    state_dir = tmp_path / "state"
    info = emulator_control.start(state_dir, free_port())
    saved = dict(os.environ)
    os.environ.update(headless_environment(state_dir, info.port))
    try:
        yield info
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emulator_control.stop(state_dir)


def run_chapter(chapter: str, output: Path) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(str(CHAPTERS[chapter]), str(output), parameters={"SOLVE_EXERCISES": True},
                               cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
    return nbformat.read(output, as_version=4)


def printed(notebook) -> str:
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")


def test_every_chapter_has_the_framework_cells():
    assert sorted(CHAPTERS) == [f"{n:02d}" for n in range(11)], "the course is chapters 00-10"
    for chapter, path in CHAPTERS.items():
        notebook = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in notebook.cells)
        parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(parameters) == 1 and "SOLVE_EXERCISES = False" in parameters[0].source, chapter
        for needed in ("Learning objectives", "Estimated time", "Prerequisites", "## Summary",
                       "## What's next", f'lab.ensure("{chapter}")', ".check(", "SOLVE_EXERCISES",
                       f'labkit.exercises.finish_chapter(lab, "{chapter}")'):
            assert needed in text, f"{path.name} lacks {needed!r}"
        with_outputs = [c for c in notebook.cells if c.cell_type == "code" and c.get("outputs")]
        assert len(with_outputs) >= 5, f"{path.name} is committed without its outputs (make notebooks)"
        assert "time.sleep" not in text, f"{path.name} waits with a fixed sleep"
        # nbval's references are one fresh run in order: every code cell executed, counted 1..n.
        counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), \
            f"{path.name} has stale or missing outputs (counts {counts}): run make notebooks"


def test_chapter_04_runs_on_its_own(fresh_emulator, tmp_path):
    notebook = run_chapter("04", tmp_path / "04.ipynb")
    out = printed(notebook)
    assert "Correct:" in out, "the exercise's solution passes its check"
    assert "same revision as the fix commit: True" in out


@pytest.mark.full
@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_on_its_own_and_twice(chapter, fresh_emulator, tmp_path):
    for run in (1, 2):
        notebook = run_chapter(chapter, tmp_path / f"{chapter}-{run}.ipynb")
        assert "Correct:" in printed(notebook), f"chapter {chapter}, run {run}: the solution's check"
