"""The AWS-native way to count successes and time stages, which CodePipeline does not publish as
metrics: an EventBridge rule sends the pipeline's state-change events into a CloudWatch Logs group,
metric filters turn them into custom metrics, and the logged events give per-stage durations."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

from labkit import ledger
from labkit.observe.logs import search_logs

PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SUPERSEDED", "STOPPED"}


def route_pipeline_events(
    lab,
    pipelines: list[str],
    group: str | None = None,
    namespace: str | None = None,
    rule: str | None = None,
) -> dict:
    """Rule → log group → metric filters. Metrics in namespace `<prefix>/CodePipeline` (counts):
    SucceededPipelineExecutions (dimension PipelineName) and SucceededStageExecutions
    (PipelineName, StageName)."""
    group = group or f"/aws/events/{lab.prefix}-pipeline-events"
    namespace = namespace or f"{lab.prefix}/CodePipeline"
    rule = rule or f"{lab.prefix}-pipeline-events"
    logs, events = lab.client("logs"), lab.client("events")
    try:
        logs.create_log_group(logGroupName=group, tags=lab.tags.as_dict())
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    group_arn = f"arn:aws:logs:{lab.region}:{lab.account_id}:log-group:{group}"
    # EventBridge may write to the group only if the group's resource policy lets it.
    # Resource policies take no tags: the ledger is how teardown knows this one is the lab's.
    ledger.record(lab, "logs", "logs resource policy", f"{lab.prefix}-events-to-logs")
    logs.put_resource_policy(
        policyName=f"{lab.prefix}-events-to-logs",
        policyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {
                            "Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
                        },
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"{group_arn}:*",
                    }
                ],
            }
        ),
    )
    events.put_rule(
        Name=rule,
        State="ENABLED",
        EventPattern=json.dumps(
            {
                "source": ["aws.codepipeline"],
                "detail-type": [PIPELINE_EVENT, STAGE_EVENT],
                "detail": {"pipeline": list(pipelines)},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "log-group", "Arn": group_arn}])
    # Pipeline events carry no stage; stage events do. Fields used as dimensions appear in the
    # pattern (`= *`), as CloudWatch Logs wants for values taken from the event.
    succeeded = '($.detail.pipeline = *) && ($.detail.state = "SUCCEEDED")'
    filters = {
        "SucceededPipelineExecutions": (
            f"{{ {succeeded} && ($.detail.stage NOT EXISTS) }}",
            {"PipelineName": "$.detail.pipeline"},
        ),
        "SucceededStageExecutions": (
            f"{{ {succeeded} && ($.detail.stage = *) }}",
            {"PipelineName": "$.detail.pipeline", "StageName": "$.detail.stage"},
        ),
    }
    for metric, (pattern, dimensions) in filters.items():
        logs.put_metric_filter(
            logGroupName=group,
            filterName=metric,
            filterPattern=pattern,
            metricTransformations=[
                {
                    "metricName": metric,
                    "metricNamespace": namespace,
                    "metricValue": "1",
                    "unit": "Count",
                    "dimensions": dimensions,
                }
            ],
        )
    return {"group": group, "rule": rule, "namespace": namespace, "metrics": list(filters)}


def logged_events(
    lab, group: str, since: timedelta | datetime = timedelta(hours=3)
) -> pd.DataFrame:
    """The pipeline events in the group: time, detail-type, pipeline, execution_id, stage, state."""
    rows = []
    for entry in search_logs(lab, group, since=since).itertuples():
        try:
            event = json.loads(entry.message)
        except ValueError:
            continue
        detail = event.get("detail", {})
        rows.append(
            {
                "time": entry.timestamp,
                "detail_type": event.get("detail-type"),
                "pipeline": detail.get("pipeline"),
                "execution_id": detail.get("execution-id"),
                "stage": detail.get("stage"),
                "state": detail.get("state"),
            }
        )
    return pd.DataFrame(
        rows, columns=["time", "detail_type", "pipeline", "execution_id", "stage", "state"]
    )


def stage_durations(events: pd.DataFrame) -> pd.DataFrame:
    """Per execution and stage: first STARTED/RESUMED to the terminal event, in seconds."""
    stages = events[events["detail_type"] == STAGE_EVENT]
    rows = []
    for (pipeline, execution, stage), part in stages.groupby(
        ["pipeline", "execution_id", "stage"], sort=False
    ):
        started = part[part["state"].isin(["STARTED", "RESUMED"])]["time"]
        ended = part[part["state"].isin(TERMINAL)]
        if started.empty or ended.empty:
            continue
        last = ended.sort_values("time").iloc[-1]
        rows.append(
            {
                "pipeline": pipeline,
                "execution_id": execution,
                "stage": stage,
                "state": last["state"],
                "start": started.min(),
                "end": last["time"],
                "duration_s": (last["time"] - started.min()).total_seconds(),
            }
        )
    return pd.DataFrame(
        rows, columns=["pipeline", "execution_id", "stage", "state", "start", "end", "duration_s"]
    )
