"""`labkit run` on small synthetic chapters: reports name the failing cell, teardown always runs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labkit.errors import LabkitError
from labkit.locks import PrefixLock, RunLockHeld, prefix_for_run
from labkit.runner import RunOptions, parse_chapter_range, plan_chapters, run_series

LABKIT = [sys.executable, "-m", "labkit"]
# A 1x1 PNG: the chart a chapter displays, which the HTML report must show.
PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
PARAMETERS = 'BACKEND = "local"\nREGION = "us-east-1"\nPREFIX = "labkit"\nGREETING = "hello"'


def write_chapter(folder: Path, name: str, *cells: str) -> Path:
    notebook = new_notebook(cells=[new_markdown_cell(f"# {name}"),
                                   new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                                   *(new_code_cell(c) for c in cells)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def course(tmp_path):
    """00 makes a topic of the lab and shows a chart, 01 raises, 02 passes, 10 is the tear-down chapter."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_chapter(folder, "00-make-things",
                  "import labkit\nlab = labkit.connect(backend=BACKEND, region=REGION, prefix=PREFIX)",
                  'topic = lab.client("sns").create_topic(Name=f"{PREFIX}-alerts", '
                  'Tags=lab.tags.as_list())["TopicArn"]\nprint("made", topic)',
                  f"from IPython.display import Image, display\nimport base64\n"
                  f"display(Image(data=base64.b64decode({PIXEL!r})))")
    write_chapter(folder, "01-raises", "answer = 41",
                  'raise ValueError(f"deliberate failure: answer is {answer}")', "print('never')")
    write_chapter(folder, "02-greets", "print(GREETING, PREFIX)")
    write_chapter(folder, "10-teardown", 'open(f"teardown-ran-{PREFIX}.txt", "w").write("yes")')
    return folder


def run_cli(emulator, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LABKIT_STATE_DIR": str(emulator.state_dir), "LABKIT_PORT": str(emulator.port)}
    return subprocess.run([*LABKIT, "run", "--no-progress", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def prefix() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


def test_a_raising_chapter_is_reported_and_teardown_still_runs(emulator, aws, course, tmp_path):
    lab_prefix, output = prefix(), tmp_path / "out"
    run = run_cli(emulator, "--notebooks", str(course), "--output", str(output), "--prefix", lab_prefix)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"report: {output / 'report.html'}" in run.stdout

    summary = json.loads((output / "summary.json").read_text())
    statuses = {c["chapter"]: c["status"] for c in summary["chapters"]}
    assert statuses == {"00-make-things": "passed", "01-raises": "failed", "02-greets": "skipped",
                        "10-teardown": "passed"}
    failed = next(c for c in summary["chapters"] if c["status"] == "failed")
    cell = failed["failed_cell"]
    assert cell["error_name"] == "ValueError"
    assert cell["error_value"] == "deliberate failure: answer is 41"
    assert "raise ValueError" in cell["source"]
    assert (course / f"teardown-ran-{lab_prefix}.txt").exists(), "the tear-down chapter ran last"
    assert summary["teardown"]["status"] == "passed" and summary["teardown"]["resources"] >= 1
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert not [t for t in topics if t.endswith(f":{lab_prefix}-alerts")], "labkit.teardown deleted it"

    report = (output / "report.html").read_text()
    assert 'href="01-raises.ipynb"' in report and "deliberate failure: answer is 41" in report
    assert "raise ValueError" in report and summary["chapters"][0]["charts"][0] in report
    assert (output / summary["chapters"][0]["charts"][0]).read_bytes().startswith(b"\x89PNG")
    assert "deliberate failure" in (output / "report.md").read_text()
    executed = nbformat.read(output / "01-raises.ipynb", as_version=4)
    assert executed.cells[cell["index"]].source == cell["source"], "index points into the executed notebook"

    suite = ET.parse(output / "junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["00-make-things", "01-raises", "02-greets", "10-teardown", "teardown"]
    assert cases["01-raises"].find("failure").get("type") == "ValueError"
    assert cases["02-greets"].find("skipped") is not None
    assert cases["00-make-things"].find("failure") is None and suite.get("failures") == "1"


def test_keep_going_range_and_parameters_without_a_teardown_chapter(emulator, course, tmp_path):
    (course / "10-teardown.ipynb").unlink()
    parameters = tmp_path / "params.yaml"
    parameters.write_text("GREETING: bonjour\n")
    output = tmp_path / "out"
    run = run_cli(emulator, "--notebooks", str(course), "--output", str(output), "--prefix", prefix(),
                  "--chapters", "01-02", "--parameters", str(parameters), "--keep-going")
    assert run.returncode == 1, run.stdout + run.stderr
    summary = json.loads((output / "summary.json").read_text())
    assert [(c["chapter"], c["status"]) for c in summary["chapters"]] == [
        ("01-raises", "failed"), ("02-greets", "passed")]
    greeted = nbformat.read(output / "02-greets.ipynb", as_version=4)
    assert "bonjour" in "".join(o.get("text", "") for c in greeted.cells for o in c.get("outputs", []))

    passing = run_cli(emulator, "--notebooks", str(course), "--output", str(tmp_path / "green"),
                      "--prefix", prefix(), "--chapters", "02")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert json.loads((tmp_path / "green" / "summary.json").read_text())["ok"] is True


def test_a_cell_over_the_timeout_fails_its_chapter(emulator, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_chapter(folder, "00-slow", "print('quick')", "import time\ntime.sleep(60)")
    state = os.environ.copy()
    try:
        series = run_series(RunOptions(output=tmp_path / "out", prefix=prefix(), notebooks_dir=folder,
                                       state_dir=emulator.state_dir, port=emulator.port,
                                       timeout_per_cell=2, teardown=False, progress=False))
    finally:
        os.environ.clear()
        os.environ.update(state)
    [chapter] = series.chapters
    assert chapter.status == "failed" and series.exit_code == 1
    assert chapter.failed_cell.index == 4 and "time.sleep(60)" in chapter.failed_cell.source
    assert "Timeout" in chapter.failed_cell.error_name + chapter.failed_cell.error_value
    assert series.teardown.status == "skipped"


def test_two_runs_never_share_a_prefix(emulator, course, tmp_path):
    lab_prefix = prefix()
    with PrefixLock(emulator.state_dir, lab_prefix):
        run = run_cli(emulator, "--notebooks", str(course), "--output", str(tmp_path / "out"),
                      "--prefix", lab_prefix, "--chapters", "02")
        with pytest.raises(RunLockHeld, match=f"pid {os.getpid()}"):
            PrefixLock(emulator.state_dir, lab_prefix).acquire()
    assert run.returncode == 1 and "Another labkit run" in run.stderr, run.stderr
    assert not (tmp_path / "out" / "02-greets.ipynb").exists()
    with PrefixLock(emulator.state_dir, lab_prefix):  # released: free again
        pass


def test_scheduled_runs_on_aws_get_a_prefix_from_the_run_id():
    assert prefix_for_run("9876543210") == "run-9876543210"
    long_id = prefix_for_run("123456789012345678901234")
    assert long_id == "run-9012345678901234" and len(long_id) == 20


def test_chapter_ranges(course):
    assert parse_chapter_range("00-10") == set(range(11))
    assert parse_chapter_range("01,03-04") == {1, 3, 4}
    chosen, teardown = plan_chapters(course, "00-01")
    assert [p.name[:2] for p in chosen] == ["00", "01"] and teardown.name == "10-teardown.ipynb"
    for bad in ("4-2", "one", "00-"):
        with pytest.raises(LabkitError, match="chapter range"):
            parse_chapter_range(bad)


def test_a_bad_parameters_file_is_refused_before_anything_runs(emulator, course, tmp_path):
    parameters = tmp_path / "params.yaml"
    parameters.write_text("- just\n- a list\n")
    run = run_cli(emulator, "--notebooks", str(course), "--output", str(tmp_path / "out"),
                  "--parameters", str(parameters))
    assert run.returncode == 1 and "must hold a mapping" in run.stderr
    assert not (tmp_path / "out").exists()
