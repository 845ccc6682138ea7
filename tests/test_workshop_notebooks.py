"""The instructor dashboard executes on a room of 30 learners; notebooks/solutions/ is up to date."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import nbformat
import pytest
from test_workshop import simulate_learner

from labkit.exercises import exercises_of
from labkit.workshop import solutions
from labkit.workshop.roster import init_workshop

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
DASHBOARD = NOTEBOOKS / "instructor" / "dashboard.ipynb"


def outputs(notebook, kind: str) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "stream" and output.get("output_type") == "stream":
                found.append(output["text"])
            elif kind != "stream" and kind in output.get("data", {}):
                found.append(output["data"][kind])
    return found


def test_the_dashboard_executes_on_30_learners_and_shows_30_rows(tmp_path, monkeypatch):
    import papermill

    workshop = init_workshop(tmp_path / "ws", 30)
    monkeypatch.setenv("LABKIT_PROGRESS_STORE", workshop.progress_store)
    monkeypatch.delenv("LABKIT_LEARNER", raising=False)
    threads = [threading.Thread(target=simulate_learner, args=(learner_.learner_id, tmp_path / "machines", 3 + i % 2))
               for i, learner_ in enumerate(workshop.learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out = tmp_path / "dashboard.ipynb"
    papermill.execute_notebook(str(DASHBOARD), str(out), cwd=str(DASHBOARD.parent), progress_bar=False,
                               kernel_name="python3", parameters={"WORKSHOP_DIR": str(workshop.folder),
                                                                  "NOW": "2099-01-01T00:00:00Z"})
    notebook = nbformat.read(out, as_version=4)
    printed = "".join(outputs(notebook, "stream"))
    assert f"{30 * 3 + 15 + 30} records" in printed  # 3 or 4 checks each, and each chapter's end
    tables = outputs(notebook, "text/html")
    status = next(t for t in tables if "chapters finished" in t)
    assert sum(f"<th>learner-{i:02d}</th>" in status for i in range(1, 31)) == 30
    stuck = next(t for t in tables if "no progress for" in t)  # judged in 2099: everyone is quiet
    assert stuck.count("<th>learner-") == 30
    assert len(outputs(notebook, "image/png")) == 2, "the heatmap and the completion chart"
    assert "No record was refused." in printed and "Mark helped" in printed
    assert (workshop.folder / "report" / "report.csv").is_file()


def test_the_committed_solutions_are_a_fresh_generation():
    problems = solutions.stale(NOTEBOOKS, NOTEBOOKS / "solutions")
    assert not problems, f"{solutions.STALE_MESSAGE} ({'; '.join(problems)})"


def test_each_solution_copy_has_every_exercise_solved_and_no_outputs():
    copies = sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]-*.ipynb"))
    assert copies, "no solutions generated: run make solutions"
    for chapter in copies:
        copy = nbformat.read(chapter, as_version=4)
        text = "\n".join(c.source for c in copy.cells)
        for exercise in exercises_of(chapter.name[:2]).values():
            assert f"Solution of exercise {exercise.name!r}" in text, (chapter.name, exercise.name)
            first_line = exercise.solution_code.strip().splitlines()[0].strip()
            assert first_line in text, (chapter.name, exercise.name)
        for cell in copy.cells:
            checked = re.search(r"\.check\((\w+)\)", cell.source)
            if "Solution of exercise" in cell.source and checked:
                solution = cell.source.rsplit("\n", 1)[0]
                assert re.search(rf"\b{checked.group(1)}\s*=", solution), \
                    f"{chapter.name}: the solution never sets {checked.group(1)}, which check() is given"
        assert not any(c.get("outputs") for c in copy.cells if c.cell_type == "code"), chapter.name
        assert copy.cells[0].source.startswith("> **Instructor copy")


def test_a_stale_copy_is_reported(tmp_path, capsys):
    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    (chapters / "00-welcome.ipynb").write_text((NOTEBOOKS / "00-welcome.ipynb").read_text())
    target = chapters / "solutions"
    assert solutions.main(["--notebooks", str(chapters), "--output", str(target)]) == 0
    assert solutions.main(["--notebooks", str(chapters), "--output", str(target), "--check"]) == 0
    (target / "00-welcome.ipynb").write_text("{}")
    (target / "07-gone.ipynb").write_text("{}")
    assert solutions.main(["--notebooks", str(chapters), "--output", str(target), "--check"]) == 1
    out = capsys.readouterr().out
    assert "00-welcome.ipynb: differs" in out and "07-gone.ipynb: no such chapter" in out
    assert "run `make solutions`" in out


@pytest.mark.slow
def test_the_solved_copy_of_chapter_00_runs(emulator, tmp_path, monkeypatch):
    import papermill

    from labkit.notebook_refresh import headless_environment

    for key, value in headless_environment(emulator.state_dir, emulator.port).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LABKIT_LEARNER", "solutions-test")
    out = tmp_path / "00.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "solutions" / "00-welcome.ipynb"), str(out),
                               parameters={"PREFIX": "solved00"}, cwd=str(NOTEBOOKS / "solutions"),
                               progress_bar=False, kernel_name="python3")
    printed = "".join(outputs(nbformat.read(out, as_version=4), "stream"))
    assert "Correct" in printed and "Chapter 00 finished." in printed


@pytest.mark.slow
def test_a_learner_runs_chapter_00_with_their_file_and_the_workshop_sees_it(emulator, tmp_path, monkeypatch):
    import papermill

    from labkit.notebook_refresh import headless_environment
    from labkit.workshop import status as ws

    workshop = init_workshop(tmp_path / "ws", 3, prefix_base="wsrun")
    for key, value in headless_environment(emulator.state_dir, emulator.port).items():
        monkeypatch.setenv(key, value)
    for name in ("LABKIT_LEARNER", "LABKIT_PREFIX", "LABKIT_PROGRESS_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABKIT_CONFIG", str(workshop.folder / "learners" / "learner-02.toml"))
    papermill.execute_notebook(str(NOTEBOOKS / "00-welcome.ipynb"), str(tmp_path / "00.ipynb"),
                               parameters={"SOLVE_EXERCISES": True}, cwd=str(NOTEBOOKS),
                               progress_bar=False, kernel_name="python3")
    records, refused = ws.load_records(workshop)
    assert not refused and set(records["learner"]) == {"learner-02"}
    table = ws.status_frame(workshop, records)
    assert table.loc["learner-02", "chapters finished"] == 1
    assert table.loc["learner-02", "exercises passed"] == 1
    assert table.loc["learner-01", "status"] == "not started"
