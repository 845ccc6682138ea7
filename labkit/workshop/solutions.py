"""Instructor copies of the chapters with every exercise solved: notebooks/solutions/NN-*.ipynb.

Generated, never edited by hand: `make solutions` (or `python -m labkit.workshop.solutions`) reads
each numbered chapter, finds its exercise cells (the ones calling `ex.<name>.check(`), replaces the
learner's placeholder with the exercise's `solution_code` from labkit/exercises/chNN.py, and strips
every output. `--check` exits 1 when the committed copies differ from a fresh generation (CI).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

import nbformat

from labkit.config import find_project_root

CHECK_CALL = re.compile(r"\bex\.(\w+)\.check\(")
BANNER_ID = "instructor-solutions-banner"
STALE_MESSAGE = "notebooks/solutions/ is out of date: run `make solutions` and commit the result."


def solved_source(cell_source: str, name: str, solution_code: str, chapter: str) -> str:
    """The exercise cell with the solution in place of the learner's placeholder; the check call kept."""
    checks = [line for line in cell_source.splitlines() if CHECK_CALL.search(line)]
    solution = textwrap.dedent(solution_code).strip("\n")
    return "\n".join([f"# Solution of exercise {name!r} (labkit/exercises/ch{chapter}.py)",
                      solution, *checks])


def solved_notebook(path: Path) -> nbformat.NotebookNode:
    from labkit.exercises import exercises_of

    chapter = path.name[:2]
    try:
        exercises = exercises_of(chapter)
    except ValueError:
        exercises = {}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        match = CHECK_CALL.search(cell.source)
        if match and match.group(1) in exercises and "SOLVE_EXERCISES" in cell.source:
            exercise = exercises[match.group(1)]
            cell.source = solved_source(cell.source, exercise.name, exercise.solution_code, chapter)
    banner = nbformat.v4.new_markdown_cell(
        f"> **Instructor copy: every exercise solved.** Generated from `notebooks/{path.name}` and "
        f"`labkit/exercises/ch{chapter}.py` by `make solutions`; edit those, not this file.")
    banner.id = BANNER_ID
    nb.cells.insert(0, banner)
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items()
                                         if k in ("kernelspec", "language_info")})
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def chapters(notebooks: Path) -> list[Path]:
    from labkit.runner import find_chapters

    return find_chapters(notebooks)


def generate(notebooks: Path, target: Path) -> dict[Path, str]:
    """File → content of every solutions notebook that should exist."""
    return {target / path.name: render(solved_notebook(path)) for path in chapters(notebooks)}


def stale(notebooks: Path, target: Path) -> list[str]:
    """What differs between the committed copies and a fresh generation (empty: up to date)."""
    wanted = generate(notebooks, target)
    problems = [f"{p.name}: missing" for p in wanted if not p.is_file()]
    problems += [f"{p.name}: differs from its chapter" for p, text in wanted.items()
                 if p.is_file() and p.read_text(encoding="utf-8") != text]
    problems += [f"{p.name}: no such chapter any more" for p in sorted(target.glob("*.ipynb"))
                 if p not in wanted]
    return problems


def write(notebooks: Path, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    wanted = generate(notebooks, target)
    for path, text in wanted.items():
        path.write_text(text, encoding="utf-8")
    for path in target.glob("*.ipynb"):
        if path not in wanted:
            path.unlink()
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    root = find_project_root() or Path.cwd()
    parser = argparse.ArgumentParser(prog="python -m labkit.workshop.solutions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", default=str(root / "notebooks"))
    parser.add_argument("--output", default=str(root / "notebooks" / "solutions"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the copies are out of date")
    args = parser.parse_args(argv)
    notebooks, target = Path(args.notebooks), Path(args.output)
    if args.check:
        problems = stale(notebooks, target)
        for problem in problems:
            print(f"  {problem}")
        print(STALE_MESSAGE if problems else "notebooks/solutions/ is up to date.")
        return 1 if problems else 0
    for path in write(notebooks, target):
        print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
