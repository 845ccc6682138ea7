"""What the instructor sees: who did what, who is stuck, chapters over time, costs, the report."""

from __future__ import annotations

import html
import json
import pkgutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from labkit.workshop.progress import (
    InvalidRecord,
    ProgressStore,
    UnknownLearner,
    open_store,
    validate_record,
)
from labkit.workshop.roster import RosterError, Workshop

STUCK_FAILURES = 3  # the same check failed this many times in a row
IDLE_MINUTES = 15  # no record for this long
PASSED, TRIED, NOT_YET = 2, 1, 0
HELPED_FILE = "helped.jsonl"


def utc(moment: datetime | str | None = None) -> datetime:
    if moment is None or moment == "":
        return datetime.now(timezone.utc)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def workshop_store(workshop: Workshop, lab=None) -> ProgressStore:
    return open_store(workshop.progress_store, lab=lab)


def load_records(workshop: Workshop, store: ProgressStore | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every valid record of the roster's learners, and a message per record that was refused."""
    store = store or workshop_store(workshop)
    rows, refused = [], []
    for learner in store.learners():
        for number, record in enumerate(store.read(learner), start=1):
            try:
                validate_record(record, workshop.ids)
                if record["learner"] != learner:
                    raise InvalidRecord(f"{learner}.jsonl line {number} is a record of "
                                        f"{record['learner']!r}; a learner writes only their own.")
            except (UnknownLearner, InvalidRecord) as exc:
                refused.append(str(exc))
                continue
            rows.append({**record, "time": utc(record["time"])})
    columns = ["learner", "chapter", "exercise", "passed", "attempts", "event", "time"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("time", kind="stable").reset_index(drop=True), refused


def course_exercises() -> list[str]:
    """`NN/name` of every exercise of every chapter module that exists (labkit.exercises.chNN)."""
    import labkit.exercises as exercises

    found = []
    for module in sorted(m.name for m in pkgutil.iter_modules(exercises.__path__)):
        if module.startswith("ch") and module[2:].isdigit():
            try:
                found += [f"{module[2:]}/{name}" for name in exercises.exercises_of(module[2:])]
            except Exception:  # a chapter module being written that does not import yet
                continue
    return found


def _attempts(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["exercise"].notna()] if len(records) else records


def heatmap_frame(workshop: Workshop, records: pd.DataFrame) -> pd.DataFrame:
    """Learners × exercises: 2 passed, 1 tried but not passed, 0 not attempted."""
    attempts = _attempts(records)
    columns = course_exercises()
    extra = sorted({f"{c}/{e}" for c, e in zip(attempts["chapter"], attempts["exercise"], strict=True)} - set(columns))
    frame = pd.DataFrame(NOT_YET, index=[learner_.learner_id for learner_ in workshop.learners],
                         columns=columns + extra, dtype=int)
    for row in attempts.itertuples():
        key = f"{row.chapter}/{row.exercise}"
        frame.loc[row.learner, key] = max(frame.loc[row.learner, key], PASSED if row.passed else TRIED)
    frame.index.name = "learner"
    return frame


def read_helped(folder: Path) -> dict[str, datetime]:
    path = Path(folder) / HELPED_FILE
    marks: dict[str, datetime] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                mark = json.loads(line)
                marks[mark["learner"]] = max(marks.get(mark["learner"], utc(mark["time"])), utc(mark["time"]))
    return marks


def mark_helped(workshop: Workshop, learner_id: str, now: datetime | None = None) -> None:
    """Record that the instructor helped `learner_id`: their earlier failures and idleness stop counting."""
    workshop.learner(learner_id)  # refuses an unknown learner
    with (workshop.folder / HELPED_FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"learner": learner_id,
                              "time": utc(now).isoformat(timespec="seconds")}) + "\n")


def stuck_reasons(workshop: Workshop, records: pd.DataFrame, helped: dict[str, datetime],
                  now: datetime) -> dict[str, str]:
    """learner → why they look stuck: a check failed 3 times in a row, or 15 minutes without a record."""
    reasons: dict[str, str] = {}
    room_started = records["time"].min() if len(records) else None
    chapters = sorted({e.split("/")[0] for e in course_exercises()})
    for learner in workshop.learners:
        mine = records[records["learner"] == learner.learner_id] if len(records) else records
        since = helped.get(learner.learner_id)
        if since is not None and len(mine):
            mine = mine[mine["time"] > since]
        finished = set(mine[mine["event"] == "chapter-finished"]["chapter"]) if len(mine) else set()
        why = []
        for (chapter, exercise), tries in (_attempts(mine).groupby(["chapter", "exercise"], sort=True)
                                           if len(mine) else []):
            streak = 0
            for passed in tries["passed"]:
                streak = 0 if passed else streak + 1
            if streak >= STUCK_FAILURES:
                why.append(f"failed {chapter}/{exercise} {streak} times in a row")
        last = mine["time"].max() if len(mine) else None
        last = max(filter(None, [last, since]), default=None)
        done = chapters and set(chapters) <= finished
        if last is not None and not done and now - last >= timedelta(minutes=IDLE_MINUTES):
            why.append(f"no progress for {int((now - last).total_seconds() // 60)} min")
        elif last is None and room_started is not None and now - room_started >= timedelta(minutes=IDLE_MINUTES):
            why.append("no record yet")
        if why:
            reasons[learner.learner_id] = "; ".join(why)
    return reasons


def status_frame(workshop: Workshop, records: pd.DataFrame, helped: dict[str, datetime] | None = None,
                 now: datetime | None = None) -> pd.DataFrame:
    """One row per learner: prefix, chapters finished, exercises passed, failed checks, last record, status."""
    now = utc(now)
    helped = helped if helped is not None else read_helped(workshop.folder)
    reasons = stuck_reasons(workshop, records, helped, now)
    rows = []
    for learner in workshop.learners:
        mine = records[records["learner"] == learner.learner_id] if len(records) else records
        attempts = _attempts(mine)
        finished = sorted(set(mine[mine["event"] == "chapter-finished"]["chapter"])) if len(mine) else []
        passed = attempts[attempts["passed"] == True]  # noqa: E712 (a column of bools and NaN)
        last = mine["time"].max() if len(mine) else None
        rows.append({
            "learner": learner.learner_id, "prefix": learner.prefix,
            "chapters finished": len(finished), "last chapter": finished[-1] if finished else "",
            "exercises passed": len({(r.chapter, r.exercise) for r in passed.itertuples()}),
            "failed checks": int((attempts["passed"] == False).sum()) if len(attempts) else 0,  # noqa: E712
            "last record": last.strftime("%H:%M") if last is not None else "",
            "status": f"stuck: {reasons[learner.learner_id]}" if learner.learner_id in reasons
            else ("not started" if last is None else "working"),
        })
    return pd.DataFrame(rows).set_index("learner")


def completion_over_time(records: pd.DataFrame) -> pd.DataFrame:
    """Cumulative number of learners who finished each chapter, at each finishing time."""
    finished = records[records["event"] == "chapter-finished"] if len(records) else records
    if not len(finished):
        return pd.DataFrame(columns=["time", "chapter", "learners"])
    first = finished.groupby(["learner", "chapter"])["time"].min().reset_index().sort_values("time")
    first["learners"] = first.groupby("chapter").cumcount() + 1
    return first[["time", "chapter", "learners"]].reset_index(drop=True)


def heatmap_chart(frame: pd.DataFrame):
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from labkit.observe.charts import show_figures_in_notebooks

    show_figures_in_notebooks()

    figure = Figure(figsize=(max(5.0, 0.9 * len(frame.columns) + 2), max(3.0, 0.22 * len(frame) + 1)))
    ax = figure.add_subplot()
    colours = ListedColormap(["#eeeeee", "#f9a825", "#2e7d32"])
    ax.imshow(frame.to_numpy(), cmap=colours, vmin=0, vmax=2, aspect="auto")
    ax.set_xticks(range(len(frame.columns)), frame.columns, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(frame.index)), frame.index, fontsize=7)
    ax.set_title("Exercises: green passed · amber tried · grey not yet")
    figure.tight_layout()
    return figure


def completion_chart(frame: pd.DataFrame):
    from matplotlib.figure import Figure

    from labkit.observe.charts import show_figures_in_notebooks

    show_figures_in_notebooks()

    figure = Figure(figsize=(7, 3))
    ax = figure.add_subplot()
    for chapter, rows in frame.groupby("chapter"):
        ax.step(rows["time"], rows["learners"], where="post", label=f"chapter {chapter}")
    ax.set_ylabel("learners finished")
    ax.set_title("Chapter completion over time")
    if len(frame):
        ax.legend(fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def costs_per_learner(lab, workshop: Workshop, start: date | None = None,
                      end: date | None = None) -> pd.DataFrame:
    """aws: Cost Explorer grouped by the labkit:lab cost allocation tag (activate it in Billing first).

    Costs appear with a delay of up to a day and only for tags activated for cost allocation.
    """
    end = end or date.today() + timedelta(days=1)
    start = start or end - timedelta(days=7)
    prefixes = {learner_.prefix: learner_.learner_id for learner_ in workshop.learners}
    totals = dict.fromkeys(prefixes, 0.0)
    params = {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
              "Granularity": "MONTHLY", "Metrics": ["UnblendedCost"],
              "GroupBy": [{"Type": "TAG", "Key": "labkit:lab"}]}
    ce = lab.client("ce")
    while True:
        page = ce.get_cost_and_usage(**params)
        for result in page.get("ResultsByTime", []):
            for group in result.get("Groups", []):
                value = group["Keys"][0].split("$", 1)[-1]  # "labkit:lab$ws1-01"
                if value in totals:
                    totals[value] += float(group["Metrics"]["UnblendedCost"]["Amount"])
        if not page.get("NextPageToken"):
            break
        params["NextPageToken"] = page["NextPageToken"]
    return pd.DataFrame([{"learner": prefixes[p], "prefix": p, "cost (USD)": round(v, 2)}
                         for p, v in totals.items()]).set_index("learner")


def write_report(workshop: Workshop, output: Path | None = None, now: datetime | None = None,
                 store: ProgressStore | None = None) -> dict[str, Path]:
    """After the session: report.csv (one row per learner) and report.html (that table, the
    exercise pass rates and chapter completion) in `<workshop>/report/`."""
    output = Path(output or workshop.folder / "report")
    output.mkdir(parents=True, exist_ok=True)
    records, refused = load_records(workshop, store)
    table = status_frame(workshop, records, now=now)
    heat = heatmap_frame(workshop, records)
    rates = pd.DataFrame({"passed": (heat == PASSED).sum(), "tried, not passed": (heat == TRIED).sum(),
                          "not attempted": (heat == NOT_YET).sum()})
    finishers = (records[records["event"] == "chapter-finished"].groupby("chapter")["learner"].nunique()
                 if len(records) else pd.Series(dtype=int))
    chapters = pd.DataFrame({"learners finished": finishers}).rename_axis("chapter")
    paths = {"csv": output / "report.csv", "html": output / "report.html"}
    table.to_csv(paths["csv"])
    refused_html = "".join(f"<li>{html.escape(r)}</li>" for r in refused)
    paths["html"].write_text(
        "<!doctype html><meta charset='utf-8'><title>Workshop report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}</style>"
        f"<h1>Workshop {html.escape(workshop.name)}: report</h1>"
        f"<p>{len(workshop.learners)} learners · {len(records)} records · written "
        f"{utc(now).strftime('%Y-%m-%d %H:%M')} UTC</p>"
        f"<h2>Learners</h2>{table.to_html()}<h2>Exercises</h2>{rates.to_html()}"
        f"<h2>Chapters</h2>{chapters.to_html()}"
        + (f"<h2>Refused records</h2><ul>{refused_html}</ul>" if refused else ""),
        encoding="utf-8")
    return paths


def check_learner_ids(workshop: Workshop, ids: list[str]) -> list[str]:
    for learner_id in ids:
        workshop.learner(learner_id)
    return ids


__all__ = ["RosterError", "check_learner_ids", "completion_chart", "completion_over_time",
           "costs_per_learner", "heatmap_chart", "heatmap_frame", "load_records", "mark_helped",
           "read_helped", "status_frame", "stuck_reasons", "write_report"]
