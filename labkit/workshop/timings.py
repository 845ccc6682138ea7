"""Per-chapter timings for the instructor's agenda, from a `labkit run`'s summary.json.

    labkit run --chapters 00-10 --output output          # on the local backend
    python -m labkit.workshop.timings output/summary.json [more/summary.json ...] [--expect 00-10]

prints a markdown table: each chapter's run time when executed (the machine's time, exercises
included) and the learner's estimate from the chapter's overview table. Chapters in `--expect`
that the run did not include are listed as "to be measured".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

from labkit.config import find_project_root

ESTIMATE = re.compile(r"\*\*Estimated time\*\*\s*\|\s*([^|\n]+)")
TITLE = re.compile(r"^#\s+(\d\d)\s*·\s*(.+)$", re.MULTILINE)


def chapter_facts(notebook: Path) -> tuple[str, str]:
    """(title, learner estimate) from a chapter's first markdown cells."""
    nb = nbformat.read(notebook, as_version=4)
    text = "\n".join(c.source for c in nb.cells[:8] if c.cell_type == "markdown")
    title = TITLE.search(text)
    estimate = ESTIMATE.search(text)
    return (title.group(2).strip() if title else notebook.stem[3:].replace("-", " "),
            estimate.group(1).strip().replace("minutes", "min") if estimate else "")


def rows(summary: dict, notebooks: Path, expect: str | None = None) -> list[dict]:
    from labkit.runner import find_chapters, parse_chapter_range

    measured = {c["chapter"][:2]: c for c in summary.get("chapters", [])}
    files = {p.name[:2]: p for p in find_chapters(notebooks)}
    wanted = sorted(set(measured) | ({f"{n:02d}" for n in parse_chapter_range(expect)} if expect else set()))
    table = []
    for number in wanted:
        title, estimate = chapter_facts(files[number]) if number in files else ("", "")
        run = measured.get(number)
        if run is None:
            seconds = "to be measured"
        elif run["status"] != "passed":
            seconds = f"{run['status']} after {run['seconds']:.0f} s"
        else:
            seconds = f"{run['seconds']:.0f} s"
        table.append({"chapter": number, "title": title or "(not written yet)",
                      "run": seconds, "estimate": estimate or "—"})
    return table


def merge(summaries: list[dict]) -> dict:
    """Several runs as one: a chapter measured again in a later run takes the later figure."""
    chapters: dict[str, dict] = {}
    for summary in summaries:
        for chapter in summary.get("chapters", []):
            chapters[chapter["chapter"][:2]] = chapter
    return {"chapters": [chapters[n] for n in sorted(chapters)], "runs": summaries}


def _run_line(summary: dict) -> str:
    measured = [c for c in summary.get("chapters", []) if c["status"] == "passed"]
    total = sum(c["seconds"] for c in measured)
    return (f"`labkit run --chapters {summary.get('chapterRange', '?')}` on the "
            f"{summary.get('backend', 'local')} backend, started {summary.get('started', '?')}: "
            f"{len(measured)} chapter(s) in {total:.0f} s, whole run {summary.get('seconds', 0):.0f} s "
            "(teardown included)")


def markdown(summary: dict | list[dict], notebooks: Path, expect: str | None = None) -> str:
    runs = summary if isinstance(summary, list) else [summary]
    merged = merge(runs)
    lines = ["| chapter | title | machine time (local run) | learner time (estimate) |",
             "|---|---|---|---|"]
    lines += [f"| {r['chapter']} | {r['title']} | {r['run']} | {r['estimate']} |"
              for r in rows(merged, notebooks, expect)]
    lines.append("")
    lines += [f"Measured by {_run_line(run)}." for run in runs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    root = find_project_root() or Path.cwd()
    parser = argparse.ArgumentParser(prog="python -m labkit.workshop.timings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", nargs="+",
                        help="summary.json of a `labkit run` (several: a later run's figure wins)")
    parser.add_argument("--notebooks", default=str(root / "notebooks"))
    parser.add_argument("--expect", help="chapter range to list even when not measured, e.g. 00-10")
    args = parser.parse_args(argv)
    summaries = []
    for path in args.summary:
        try:
            summaries.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"Cannot read {path}: {exc}. Run `labkit run --output output` first.",
                  file=sys.stderr)
            return 1
    print(markdown(summaries, Path(args.notebooks), args.expect))
    return 0


if __name__ == "__main__":
    sys.exit(main())
