"""A CloudWatch dashboard with the course's widgets (PutDashboard), and the same widgets drawn
locally with matplotlib from GetMetricData."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from matplotlib.figure import Figure

from labkit.observe.charts import metric_chart
from labkit.observe.metrics import metric_data, window


def course_widgets(
    lab, project: str, pipeline: str, custom_namespace: str | None = None, period: int = 60
) -> list[dict]:
    """Metric widgets: build outcomes, build duration, pipeline duration and failures, and the
    success count that the pipeline-events metric filter publishes."""

    def widget(title: str, metrics: list[list], stat: str, x: int, y: int) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "metrics": metrics,
                "stat": stat,
                "period": period,
                "region": lab.region,
                "view": "timeSeries",
            },
        }

    widgets = [
        widget(
            "Builds succeeded and failed",
            [
                ["AWS/CodeBuild", "SucceededBuilds", "ProjectName", project],
                ["AWS/CodeBuild", "FailedBuilds", "ProjectName", project],
            ],
            "Sum",
            0,
            0,
        ),
        widget(
            "Build duration (seconds)",
            [["AWS/CodeBuild", "Duration", "ProjectName", project]],
            "Average",
            12,
            0,
        ),
        widget(
            "Pipeline duration (seconds)",
            [["AWS/CodePipeline", "PipelineDuration", "PipelineName", pipeline]],
            "Average",
            0,
            6,
        ),
        widget(
            "Failed pipeline executions",
            [["AWS/CodePipeline", "FailedPipelineExecutions", "PipelineName", pipeline]],
            "Sum",
            12,
            6,
        ),
    ]
    if custom_namespace:
        widgets.append(
            widget(
                "Succeeded pipeline executions (from events)",
                [[custom_namespace, "SucceededPipelineExecutions", "PipelineName", pipeline]],
                "Sum",
                0,
                12,
            )
        )
    return widgets


def put_dashboard(lab, name: str, widgets: list[dict]) -> dict:
    """Create or replace the dashboard; returns PutDashboard's answer (validation messages)."""
    from labkit import ledger

    # Dashboards take no tags: the ledger is how teardown knows this one is the lab's.
    ledger.record(lab, "cloudwatch", "cloudwatch dashboard", name)
    answer = lab.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=json.dumps({"widgets": widgets})
    )
    return {
        "DashboardName": name,
        "DashboardValidationMessages": answer.get("DashboardValidationMessages", []),
    }


def _queries(widget: dict) -> list[dict]:
    properties = widget["properties"]
    queries = []
    for entry in properties["metrics"]:
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        names = [e for e in entry if not isinstance(e, dict)]
        namespace, metric, pairs = names[0], names[1], names[2:]
        queries.append(
            {
                "namespace": namespace,
                "metric": metric,
                "stat": options.get("stat", properties.get("stat", "Average")),
                "period": options.get("period", properties.get("period", 300)),
                "dimensions": dict(zip(pairs[::2], pairs[1::2], strict=False)),
            }
        )
    return queries


def render_dashboard(
    lab,
    name: str | None = None,
    widgets: list[dict] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    save: str | Path | None = None,
) -> Figure:
    """Draw a dashboard's metric widgets (read back with GetDashboard, or given) in one figure."""
    if widgets is None:
        body = lab.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"]
        widgets = json.loads(body)["widgets"]
    metric_widgets = [w for w in widgets if w.get("type") == "metric"]
    start, end = window(start, end)
    columns = 2 if len(metric_widgets) > 1 else 1
    rows = max(1, math.ceil(len(metric_widgets) / columns))
    figure = Figure(figsize=(7 * columns, 3.3 * rows))
    figure.suptitle(f"Dashboard {name}" if name else "Dashboard")
    for i, widget in enumerate(metric_widgets):
        ax = figure.add_subplot(rows, columns, i + 1)
        frame = metric_data(lab, _queries(widget), start, end)
        metric_chart(frame, title=widget["properties"].get("title"), ax=ax)
    figure.tight_layout()
    if save:
        figure.savefig(save, dpi=120)
    return figure
