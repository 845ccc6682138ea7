"""CloudWatch alarms the course makes: one on AWS/CodePipeline FailedPipelineExecutions that
notifies an SNS topic, and waiting until an alarm reaches a state."""

from __future__ import annotations

import json
import time

import pandas as pd


def failed_pipeline_alarm(
    lab, pipeline: str, topic_arn: str, name: str | None = None, period: int = 60
) -> str:
    """Alarm when a pipeline execution fails (Sum of FailedPipelineExecutions >= 1 in a period).
    Missing data is not breaching: CodePipeline publishes the metric only when a run fails."""
    name = name or f"{pipeline}-failed-executions"
    lab.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"A {pipeline} execution failed",
        Namespace="AWS/CodePipeline",
        MetricName="FailedPipelineExecutions",
        Dimensions=[{"Name": "PipelineName", "Value": pipeline}],
        Statistic="Sum",
        Period=period,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
        OKActions=[topic_arn],
        Tags=lab.tags.as_list(),
    )
    return name


def alarm_state(lab, name: str) -> dict:
    """The alarm's StateValue, StateReason and StateUpdatedTimestamp."""
    alarms = lab.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        raise LookupError(f"no alarm named {name!r}")
    alarm = alarms[0]
    return {k: alarm.get(k) for k in ("StateValue", "StateReason", "StateUpdatedTimestamp")}


def wait_for_alarm(
    lab, name: str, state: str = "ALARM", timeout: float = 180, poll: float = 1.0
) -> dict:
    """Poll until the alarm is in `state` (AWS evaluates once a period, so allow minutes there)."""
    deadline = time.monotonic() + timeout
    while True:
        current = alarm_state(lab, name)
        if current["StateValue"] == state:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"alarm {name} is {current['StateValue']} after {timeout} s, "
                f"not {state}: {current['StateReason']}"
            )
        time.sleep(poll)


def alarm_history(lab, name: str) -> pd.DataFrame:
    """The alarm's state changes, newest first: timestamp, old_state, new_state, summary."""
    cloudwatch = lab.client("cloudwatch")
    params = {"AlarmName": name, "HistoryItemType": "StateUpdate"}
    rows = []
    while True:
        page = cloudwatch.describe_alarm_history(**params)
        for item in page.get("AlarmHistoryItems", []):
            data = json.loads(item.get("HistoryData") or "{}")
            rows.append(
                {
                    "timestamp": item["Timestamp"],
                    "old_state": data.get("oldState", {}).get("stateValue"),
                    "new_state": data.get("newState", {}).get("stateValue"),
                    "summary": item.get("HistorySummary"),
                }
            )
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return pd.DataFrame(rows, columns=["timestamp", "old_state", "new_state", "summary"])
