"""Run the course's numbered chapters in order with papermill, tear the lab down, write the reports."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.config import find_project_root
from labkit.errors import LabkitError

# The tear-down chapter runs last in every series, even after a failure: on the aws backend
# it is what keeps a scheduled run from leaving billable resources behind.
TEARDOWN_CHAPTER = "10"
ALL_CHAPTERS = "00-99"


@dataclass
class FailedCell:
    """Where a chapter stopped: the cell (0-based index, execution count, first line) and its error."""

    index: int | None
    execution_count: int | None
    source: str
    error_name: str
    error_value: str

    @property
    def first_line(self) -> str:
        lines = [line for line in self.source.splitlines() if line.strip()]
        return lines[0][:120] if lines else ""

    def describe(self) -> str:
        where = f"cell {self.index}" if self.index is not None else "a cell"
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        return f"{where}: {self.error_name}: {self.error_value}"


@dataclass
class ChapterResult:
    chapter: str  # the notebook's stem, e.g. "04-pipeline-codepipeline"
    status: str  # "passed" | "failed" | "skipped"
    seconds: float
    output: str  # the executed notebook's file name inside the output folder
    failed_cell: FailedCell | None = None
    charts: list[str] = field(default_factory=list)  # PNG files inside the output folder
    teardown: bool = False

    @property
    def error(self) -> str | None:
        return self.failed_cell.describe() if self.failed_cell else None


@dataclass
class TeardownOutcome:
    """What labkit.teardown did after the chapters: ok, resources handled, what is left."""

    status: str  # "passed" | "failed" | "skipped"
    message: str
    resources: int = 0
    leftovers: list[str] = field(default_factory=list)


@dataclass
class RunOptions:
    output: Path
    backend: str = "local"
    region: str | None = None
    profile: str | None = None
    prefix: str | None = None
    chapters: str = ALL_CHAPTERS
    parameters: dict = field(default_factory=dict)
    timeout_per_cell: float | None = None
    keep_going: bool = False
    notebooks_dir: Path | None = None
    state_dir: Path | None = None
    port: int | None = None
    teardown: bool = True  # call labkit.teardown after the chapters
    progress: bool = True


@dataclass
class SeriesResult:
    options: RunOptions
    prefix: str
    chapters: list[ChapterResult]
    teardown: TeardownOutcome
    started: str
    seconds: float

    @property
    def failed(self) -> list[ChapterResult]:
        return [c for c in self.chapters if c.status == "failed"]

    @property
    def ok(self) -> bool:
        """No chapter failed and teardown left nothing behind."""
        return not self.failed and self.teardown.status != "failed"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def find_chapters(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.glob("[0-9][0-9]*.ipynb") if p.is_file())


def parse_chapter_range(spec: str) -> set[int]:
    """'00-10' → {0..10}; '02' → {2}; '01,03-04' → {1, 3, 4}."""
    chosen: set[int] = set()
    for part in str(spec).split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d{1,2})(?:-(\d{1,2}))?", part)
        if not match:
            raise LabkitError(f"Invalid chapter range {spec!r}: use two-digit chapter numbers "
                              "like 00-10, 04 or 01,03-05.")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low:
            raise LabkitError(f"Invalid chapter range {part!r}: {high:02d} comes before {low:02d}.")
        chosen.update(range(low, high + 1))
    return chosen


def is_teardown_chapter(path: Path) -> bool:
    return path.name[:2] == TEARDOWN_CHAPTER or "teardown" in path.stem.replace("-", "")


def plan_chapters(notebooks_dir: Path, spec: str) -> tuple[list[Path], Path | None]:
    """The chapters in range, in order, and the tear-down chapter (run last whatever the range)."""
    every = find_chapters(notebooks_dir)
    teardown = next((p for p in every if is_teardown_chapter(p)), None)
    numbers = parse_chapter_range(spec)
    chosen = [p for p in every if int(p.name[:2]) in numbers and p != teardown]
    return chosen, teardown


def load_parameters(path: Path) -> dict:
    """A YAML (or JSON) mapping of parameter names to values for every chapter."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabkitError(f"Cannot read the parameters file {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise LabkitError(f"The parameters file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise LabkitError(f"The parameters file {path} must hold a mapping of names to values "
                          "(e.g. `SOLVE_EXERCISES: true`), not a list or a single value.")
    return data


def kernel_environment(options: RunOptions, prefix: str) -> dict[str, str]:
    """What the kernels inherit: plain-text widgets and the lab's settings (also for `!aws` cells)."""
    env = {"LABKIT_HEADLESS": "1", "LABKIT_BACKEND": options.backend, "LABKIT_PREFIX": prefix,
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    if options.region:
        env["LABKIT_REGION"] = options.region
    if options.profile:
        env["LABKIT_PROFILE"] = options.profile
        env["AWS_PROFILE"] = options.profile
    if options.state_dir:
        env["LABKIT_STATE_DIR"] = str(options.state_dir)
    if options.port:
        env["LABKIT_PORT"] = str(options.port)
    return env


def run_series(options: RunOptions) -> SeriesResult:
    """Execute the chapters in order into `options.output`, always finish with the tear-down
    chapter (when the course has one) and labkit.teardown, then write the reports."""
    from labkit import reports
    from labkit.config import load_config
    from labkit.locks import PrefixLock

    root = find_project_root() or Path.cwd()
    notebooks_dir = options.notebooks_dir or root / "notebooks"
    if not notebooks_dir.is_dir():
        raise LabkitError(f"No notebooks folder at {notebooks_dir}.")
    chapters, teardown_chapter = plan_chapters(notebooks_dir, options.chapters)
    config = load_config(backend=options.backend, region=options.region, prefix=options.prefix,
                         profile=options.profile, port=options.port, state_dir=options.state_dir)
    output = options.output
    output.mkdir(parents=True, exist_ok=True)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    started = time.monotonic()
    saved = dict(os.environ)
    os.environ.update(kernel_environment(options, config.prefix))
    try:
        with PrefixLock(config.state_dir, config.prefix):
            results = _run_chapters(options, chapters, teardown_chapter, notebooks_dir, config.prefix)
            outcome = _teardown(options, config) if options.teardown else TeardownOutcome(
                "skipped", "labkit.teardown not called (--no-teardown)")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    series = SeriesResult(options, config.prefix, results, outcome, started_at,
                          round(time.monotonic() - started, 1))
    reports.write_all(series, output)
    return series


def _run_chapters(options: RunOptions, chapters: list[Path], teardown_chapter: Path | None,
                  notebooks_dir: Path, prefix: str) -> list[ChapterResult]:
    planned = chapters + ([teardown_chapter] if teardown_chapter else [])
    parameters = {**options.parameters, "BACKEND": options.backend, "PREFIX": prefix}
    if options.region:
        parameters["REGION"] = options.region
    series_bar = _series_bar(len(planned)) if options.progress else None
    results: list[ChapterResult] = []
    stop = False
    for path in planned:
        is_teardown = path == teardown_chapter
        if stop and not is_teardown:
            results.append(ChapterResult(path.stem, "skipped", 0.0, path.name))
        else:
            if series_bar is not None:
                series_bar.set_description(f"series ({path.stem[:24]})")
            result = run_chapter(path, options.output, parameters, notebooks_dir,
                                 options.timeout_per_cell, options.progress)
            result.teardown = is_teardown
            results.append(result)
            stop = stop or (result.status == "failed" and not options.keep_going)
        if series_bar is not None:
            series_bar.update(1)
    if series_bar is not None:
        series_bar.close()
    return results


def _series_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="series", unit="chapter", position=0, leave=True)


def run_chapter(path: Path, output_dir: Path, parameters: dict, notebooks_dir: Path,
                timeout_per_cell: float | None = None, progress: bool = False) -> ChapterResult:
    """Execute one chapter into output_dir/<name>; a failure is recorded, never raised."""
    import papermill

    target = output_dir / path.name
    started = time.monotonic()
    failed: FailedCell | None = None
    try:
        papermill.execute_notebook(str(path), str(target), parameters=parameters,
                                   cwd=str(notebooks_dir), progress_bar=progress,
                                   execution_timeout=timeout_per_cell, kernel_name="python3")
    except papermill.PapermillExecutionError as exc:
        failed = FailedCell(exc.cell_index, exc.exec_count, exc.source, exc.ename,
                            _one_line(exc.evalue))
        # papermill adds a banner cell above the failing one: point at the cell in the file.
        written = _failed_cell_from_notebook(target)
        if written is not None:
            failed.index = written.index
    except Exception as exc:  # a cell timeout, a dead kernel: papermill lets these through
        message = (f"the cell ran longer than {timeout_per_cell:g} s (--timeout-per-cell)"
                   if isinstance(exc, TimeoutError) and timeout_per_cell else _one_line(str(exc)))
        failed = _failed_cell_from_notebook(target) or FailedCell(None, None, "", "", "")
        failed.error_name, failed.error_value = type(exc).__name__, message
    seconds = round(time.monotonic() - started, 1)
    charts = _save_charts(target, output_dir) if target.exists() else []
    return ChapterResult(path.stem, "failed" if failed else "passed", seconds, path.name, failed,
                         charts)


def _one_line(text: str, limit: int = 500) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()
    return " ".join(text.split())[:limit]


def _failed_cell_from_notebook(target: Path) -> FailedCell | None:
    """The cell papermill marked as failed or still running (a timeout leaves no error output)."""
    import nbformat

    try:
        notebook = nbformat.read(target, as_version=4)
    except (OSError, ValueError):
        return None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        marks = cell.get("metadata", {}).get("papermill", {})
        # A timed-out cell is interrupted: "completed" with a KeyboardInterrupt error output.
        errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if marks.get("exception") or marks.get("status") == "running" or errored:
            return FailedCell(index, cell.get("execution_count"), cell.source, "", "")
    return None


def _save_charts(notebook_path: Path, output_dir: Path) -> list[str]:
    """Write every PNG the chapter displayed to output_dir/charts/ for the HTML report."""
    import base64

    import nbformat

    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError):
        return []
    saved: list[str] = []
    charts_dir = output_dir / "charts"
    for index, cell in enumerate(notebook.cells):
        for number, out in enumerate(cell.get("outputs", [])):
            png = out.get("data", {}).get("image/png")
            if not png:
                continue
            charts_dir.mkdir(exist_ok=True)
            name = f"charts/{notebook_path.stem}-cell{index}-{number}.png"
            (output_dir / name).write_bytes(base64.b64decode(png))
            saved.append(name)
    return saved


def _teardown(options: RunOptions, config) -> TeardownOutcome:
    """labkit.teardown for the run's prefix: the safety net behind the tear-down chapter."""
    from labkit import emulator_control

    try:
        from labkit.lab import connect
        from labkit.teardown import teardown
    except ImportError:  # a course without the teardown package: say so, do not fail the run
        return TeardownOutcome("skipped", "labkit.teardown is not available")
    if config.backend == "local" and emulator_control.find_running(config.state_dir) is None:
        return TeardownOutcome("passed", f"no emulator is running for {config.state_dir}: "
                                         "nothing of the lab exists")
    saved = dict(os.environ)
    try:
        lab = connect(backend=config.backend, region=config.region, prefix=config.prefix,
                      profile=config.profile, port=options.port, state_dir=config.state_dir)
        report = teardown(lab)
    except Exception as exc:  # reported in the run's summary, which must still be written
        return TeardownOutcome("failed", f"teardown raised {type(exc).__name__}: {_one_line(str(exc))}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    status = "passed" if report.ok else "failed"
    return TeardownOutcome(status, report.summary(), len(report.rows), list(report.leftovers))
