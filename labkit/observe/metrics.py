"""CloudWatch metrics as tidy pandas DataFrames (GetMetricData, every page), with the course's
CodeBuild and CodePipeline metrics by their real names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

COLUMNS = ["timestamp", "value", "metric", "stat", "dimensions", "namespace"]

# AWS/CodeBuild: counts are summed, durations (seconds) averaged.
BUILD_COUNTS = ("Builds", "SucceededBuilds", "FailedBuilds")
BUILD_DURATIONS = (
    "Duration",
    "SubmittedDuration",
    "QueuedDuration",
    "ProvisioningDuration",
    "DownloadSourceDuration",
    "InstallDuration",
    "PreBuildDuration",
    "BuildDuration",
    "PostBuildDuration",
    "UploadArtifactsDuration",
    "FinalizingDuration",
)
# AWS/CodePipeline publishes exactly these two (no success count, no stage times).
PIPELINE_METRICS = {"PipelineDuration": "Average", "FailedPipelineExecutions": "Sum"}


def window(
    start: datetime | None, end: datetime | None, hours: float = 3
) -> tuple[datetime, datetime]:
    """Default to the last `hours` hours, ending a minute from now so fresh datapoints count."""
    end = end or datetime.now(timezone.utc) + timedelta(minutes=1)
    start = start or end - timedelta(hours=hours)
    # Whole minutes, so that periods start on the minute as CloudWatch aligns them.
    return start.replace(second=0, microsecond=0), end


def dimension_list(dimensions: dict[str, str] | None) -> list[dict]:
    return [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()]


def metric_data(lab, queries: list[dict], start: datetime, end: datetime) -> pd.DataFrame:
    """Run GetMetricData for `queries` (each {metric, stat, period, dimensions, namespace}) and
    follow NextToken; one row per datapoint."""
    cloudwatch = lab.client("cloudwatch")
    requests = [
        {
            "Id": f"q{i}",
            "Label": q["metric"],
            "MetricStat": {
                "Metric": {
                    "Namespace": q["namespace"],
                    "MetricName": q["metric"],
                    "Dimensions": dimension_list(q.get("dimensions")),
                },
                "Period": int(q.get("period", 60)),
                "Stat": q.get("stat", "Sum"),
            },
        }
        for i, q in enumerate(queries)
    ]
    by_id = {f"q{i}": q for i, q in enumerate(queries)}
    rows, token = [], None
    while True:
        params = {
            "MetricDataQueries": requests,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            params["NextToken"] = token
        page = cloudwatch.get_metric_data(**params)
        for result in page.get("MetricDataResults", []):
            query = by_id[result["Id"]]
            dims = ",".join(f"{k}={v}" for k, v in (query.get("dimensions") or {}).items())
            for stamp, value in zip(
                result.get("Timestamps", []), result.get("Values", []), strict=True
            ):
                rows.append(
                    {
                        "timestamp": stamp,
                        "value": float(value),
                        "metric": query["metric"],
                        "stat": query.get("stat", "Sum"),
                        "dimensions": dims,
                        "namespace": query["namespace"],
                    }
                )
        token = page.get("NextToken")
        if not token:
            break
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not frame.empty:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame.sort_values(["metric", "timestamp"], ignore_index=True)
    return frame


def metrics(
    lab,
    namespace: str,
    metric: str,
    dimensions: dict[str, str] | None = None,
    stat: str = "Sum",
    period: int = 60,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """One metric's datapoints: columns timestamp, value, metric, stat, dimensions, namespace."""
    start, end = window(start, end)
    return metric_data(
        lab,
        [
            {
                "namespace": namespace,
                "metric": metric,
                "stat": stat,
                "period": period,
                "dimensions": dimensions,
            }
        ],
        start,
        end,
    )


def build_metrics(
    lab,
    project: str,
    period: int = 60,
    start: datetime | None = None,
    end: datetime | None = None,
    names: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """AWS/CodeBuild metrics of one project (dimension ProjectName)."""
    start, end = window(start, end)
    names = names or BUILD_COUNTS + BUILD_DURATIONS
    queries = [
        {
            "namespace": "AWS/CodeBuild",
            "metric": name,
            "period": period,
            "stat": "Sum" if name in BUILD_COUNTS else "Average",
            "dimensions": {"ProjectName": project},
        }
        for name in names
    ]
    return metric_data(lab, queries, start, end)


def pipeline_metrics(
    lab, pipeline: str, period: int = 60, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """AWS/CodePipeline PipelineDuration (s) and FailedPipelineExecutions (count) of a pipeline."""
    start, end = window(start, end)
    queries = [
        {
            "namespace": "AWS/CodePipeline",
            "metric": name,
            "stat": stat,
            "period": period,
            "dimensions": {"PipelineName": pipeline},
        }
        for name, stat in PIPELINE_METRICS.items()
    ]
    return metric_data(lab, queries, start, end)
