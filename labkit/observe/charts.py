"""Charts of what ran (matplotlib, no pyplot state): build phases, outcomes over time, pipeline
and deployment timelines, the cache effect, metric lines. Each returns its Figure and saves a
PNG when `save` names a file."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.dates import DateFormatter, MinuteLocator
from matplotlib.figure import Figure

from labkit.aws_names import CODEBUILD_PHASES

matplotlib.rcParams.setdefault("figure.dpi", 100)
PHASE_ORDER = list(CODEBUILD_PHASES[:-1])  # COMPLETED has no duration to draw
STATUS_COLOURS = {
    "SUCCEEDED": "tab:green",
    "Succeeded": "tab:green",
    "FAILED": "tab:red",
    "Failed": "tab:red",
    "FAULT": "tab:red",
    "TIMED_OUT": "tab:orange",
    "STOPPED": "tab:grey",
    "Stopped": "tab:grey",
    "Skipped": "lightgrey",
    "InProgress": "tab:blue",
    "IN_PROGRESS": "tab:blue",
    "Abandoned": "tab:grey",
    "Superseded": "tab:grey",
    "Pending": "lightgrey",
}


def show_figures_in_notebooks() -> bool:
    """Let IPython display the Figures these charts return as PNG, as pyplot's inline backend
    does for its own (they are made without pyplot, so no window or figure pile-up). Returns
    whether an IPython shell was found."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))
    return True


def _finish(figure: Figure, save: str | Path | None) -> Figure:
    figure.tight_layout()
    if save:
        figure.savefig(save, dpi=120)
    return figure


def _empty(title: str, message: str, save) -> Figure:
    figure = Figure(figsize=(8, 2))
    ax = figure.add_subplot()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return _finish(figure, save)


def build_phases_chart(history: pd.DataFrame, save: str | Path | None = None) -> Figure:
    """Each build's duration as a bar stacked by phase (from build_history)."""
    title = "Build duration by phase"
    phases = history[(history["kind"] == "phase") & history["end"].notna()]
    if phases.empty:
        return _empty(title, "No finished builds yet", save)
    table = phases.pivot_table(
        index="number", columns="name", values="duration_s", aggfunc="sum", fill_value=0.0
    )
    table = table[[p for p in PHASE_ORDER if p in table.columns]]
    figure = Figure(figsize=(max(6, 0.6 * len(table) + 3), 4))
    ax = figure.add_subplot()
    labels = [f"#{n}" for n in table.index]
    bottom = pd.Series(0.0, index=table.index)
    colours = matplotlib.colormaps["tab20"]
    for i, phase in enumerate(table.columns):
        ax.bar(labels, table[phase], bottom=bottom, label=phase, color=colours(i))
        bottom += table[phase]
    ax.set_title(f"{title} ({history['name'].iloc[0]})")
    ax.set_xlabel("build number")
    ax.set_ylabel("duration (seconds)")
    ax.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    return _finish(figure, save)


def outcomes_chart(
    history: pd.DataFrame, freq: str = "h", save: str | Path | None = None
) -> Figure:
    """How many builds (or executions, or deployments) succeeded and failed in each time bucket."""
    kind = history["kind"].iloc[0] if not history.empty else "build"
    title = f"{kind.capitalize()} outcomes over time"
    runs = history[history["kind"] == kind]
    if runs.empty:
        return _empty(title, "Nothing has run yet", save)
    bucket = runs["start"].dt.floor(freq).dt.strftime("%m-%d %H:%M")
    outcome = (
        runs["status"]
        .str.upper()
        .map(
            lambda s: (
                "succeeded"
                if s == "SUCCEEDED"
                else ("in progress" if s == "INPROGRESS" else "failed")
            )
        )
    )
    counts = pd.crosstab(bucket, outcome)
    figure = Figure(figsize=(max(6, 0.8 * len(counts) + 3), 4))
    ax = figure.add_subplot()
    colours = {"succeeded": "tab:green", "failed": "tab:red", "in progress": "tab:blue"}
    width = 0.8 / len(counts.columns)
    positions = range(len(counts))
    for i, column in enumerate(counts.columns):
        ax.bar(
            [p + i * width for p in positions],
            counts[column],
            width=width,
            label=column,
            color=colours.get(column),
        )
    ax.set_xticks([p + width * (len(counts.columns) - 1) / 2 for p in positions], counts.index)
    ax.set_title(title)
    ax.set_xlabel(f"time (UTC, per {freq})")
    ax.set_ylabel(f"{kind}s (count)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return _finish(figure, save)


def _gantt(rows: pd.DataFrame, labels: list[str], title: str, ylabel: str, save) -> Figure:
    figure = Figure(figsize=(10, max(2.5, 0.35 * len(labels) + 1.5)))
    ax = figure.add_subplot()
    origin = rows["start"].min()
    for y, label in enumerate(labels):
        for _, row in rows[rows["_label"] == label].iterrows():
            start = (row["start"] - origin).total_seconds()
            ax.barh(
                y,
                max(row["duration_s"], 0.05),
                left=start,
                color=STATUS_COLOURS.get(row["status"], "tab:blue"),
                edgecolor="black",
                linewidth=0.3,
            )
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(f"seconds since {origin:%Y-%m-%d %H:%M:%S} UTC")
    ax.set_ylabel(ylabel)
    handles = {s: c for s, c in STATUS_COLOURS.items() if s in set(rows["status"])}
    for status, colour in handles.items():
        ax.barh([], [], color=colour, label=status)
    if handles:
        ax.legend(fontsize="small", loc="lower right")
    return _finish(figure, save)


def pipeline_timeline(history: pd.DataFrame, save: str | Path | None = None) -> Figure:
    """A Gantt chart of each execution's stages and actions (from pipeline_history)."""
    title = "Pipeline executions: stages and actions"
    rows = history[history["kind"].isin(["stage", "action"]) & history["end"].notna()].copy()
    if rows.empty:
        return _empty(title, "No action has run yet", save)
    rows["_label"] = [
        f"{i[:8]} {s}" + ("" if k == "stage" else f" / {n}")
        for i, s, k, n in zip(rows["id"], rows["stage"], rows["kind"], rows["name"], strict=True)
    ]
    labels = list(dict.fromkeys(rows.sort_values("start", kind="stable")["_label"]))
    return _gantt(
        rows, labels, f"{title} ({history['name'].iloc[0]})", "execution, stage / action", save
    )


def deployment_timeline(history: pd.DataFrame, save: str | Path | None = None) -> Figure:
    """A Gantt chart of lifecycle events per host and deployment (from deployment_history)."""
    title = "Deployments: lifecycle events per host"
    rows = history[
        (history["kind"] == "event") & history["start"].notna() & history["end"].notna()
    ].copy()
    if rows.empty:
        return _empty(title, "No lifecycle event has run yet", save)
    rows["_label"] = [
        f"{d[:12]} {h} {n}" for d, h, n in zip(rows["id"], rows["host"], rows["name"], strict=True)
    ]
    labels = list(dict.fromkeys(rows.sort_values("start", kind="stable")["_label"]))
    return _gantt(rows, labels, title, "deployment, host, event", save)


def cache_effect_chart(
    history: pd.DataFrame, phase: str = "INSTALL", save: str | Path | None = None
) -> Figure:
    """The INSTALL phase of each build, coloured by whether the build had a cache."""
    title = f"{phase} phase before and after the cache"
    rows = history[
        (history["kind"] == "phase") & (history["name"] == phase) & history["end"].notna()
    ]
    if rows.empty:
        return _empty(title, f"No build has finished {phase} yet", save)
    figure = Figure(figsize=(max(6, 0.6 * len(rows) + 3), 4))
    ax = figure.add_subplot()
    cached = rows["cache"].fillna("NO_CACHE") != "NO_CACHE"
    for flag, label, colour in ((False, "no cache", "tab:orange"), (True, "cache", "tab:cyan")):
        part = rows[cached == flag]
        if not part.empty:
            mean = part["duration_s"].mean()
            ax.bar(
                [f"#{n}" for n in part["number"]],
                part["duration_s"],
                color=colour,
                label=f"{label} (mean {mean:.1f} s)",
            )
    ax.set_title(title)
    ax.set_xlabel("build number")
    ax.set_ylabel(f"{phase} duration (seconds)")
    ax.legend()
    return _finish(figure, save)


def metric_chart(
    frame: pd.DataFrame, title: str | None = None, ax=None, save: str | Path | None = None
) -> Figure:
    """One line per metric of a metrics() DataFrame."""
    figure = ax.figure if ax is not None else Figure(figsize=(8, 3.5))
    ax = ax if ax is not None else figure.add_subplot()
    ax.set_title(title or ", ".join(frame["metric"].unique()) or "metric")
    if frame.empty:
        ax.text(
            0.5,
            0.5,
            "No datapoints in this window",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    for (metric, stat), part in frame.groupby(["metric", "stat"], sort=False):
        ax.plot(part["timestamp"], part["value"], marker="o", label=f"{metric} ({stat})")
    ax.set_xlabel("time (UTC)")
    units = {"Sum": "count", "SampleCount": "count"}
    stats = set(frame["stat"]) if not frame.empty else set()
    ax.set_ylabel("count" if stats and stats <= set(units) else "value (seconds or count)")
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    if not frame.empty:
        ax.legend(fontsize="small")
        # A window of a few minutes (a single datapoint, or all in one minute) gets a few minutes
        # of margin: matplotlib's default for a zero-width range labels every tick 00:00.
        first, last = frame["timestamp"].min(), frame["timestamp"].max()
        if last - first < pd.Timedelta(minutes=4):
            ax.set_xlim(first - pd.Timedelta(minutes=2), last + pd.Timedelta(minutes=2))
            ax.xaxis.set_major_locator(MinuteLocator())
    return _finish(figure, save)


show_figures_in_notebooks()
