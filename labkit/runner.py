"""Run the course's numbered chapters in order with papermill, each into an output folder."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.config import find_project_root


@dataclass
class ChapterResult:
    chapter: str
    status: str  # "passed" | "failed"
    seconds: float
    output: str
    error: str | None = None


def find_chapters(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.glob("[0-9][0-9]*.ipynb") if p.is_file())


def run_series(output_dir: Path, notebooks_dir: Path | None = None,
               parameters: dict | None = None, keep_going: bool = False) -> list[ChapterResult]:
    """Execute every chapter in order; stop at the first failure unless `keep_going`."""
    import papermill

    root = find_project_root() or Path.cwd()
    notebooks_dir = notebooks_dir or root / "notebooks"
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ["LABKIT_HEADLESS"] = "1"  # widgets render as plain text under papermill
    results: list[ChapterResult] = []
    for chapter in find_chapters(notebooks_dir):
        target = output_dir / chapter.name
        started = time.monotonic()
        try:
            papermill.execute_notebook(str(chapter), str(target), parameters=parameters or {},
                                       cwd=str(notebooks_dir), progress_bar=False)
            results.append(ChapterResult(chapter.stem, "passed",
                                         round(time.monotonic() - started, 1), str(target)))
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's error
            results.append(ChapterResult(chapter.stem, "failed",
                                         round(time.monotonic() - started, 1), str(target),
                                         str(exc).strip().splitlines()[-1][:500]))
            if not keep_going:
                break
    (output_dir / "summary.json").write_text(
        json.dumps({"chapters": [asdict(r) for r in results]}, indent=2), encoding="utf-8")
    return results
