"""What an alarm sends and records about a state change: SNS message, event detail, times."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import cache
from typing import Any

# The SNS message names standard statistics the way CloudWatch's notifier does.
TRIGGER_STATISTIC = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}


def aws_time(moment: datetime) -> str:
    """CloudWatch's notification time format: 2026-11-26T10:00:00.000+0000."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@cache
def region_long_name(region: str) -> str:
    """The long name of a region (us-east-1: US East (N. Virginia)), from botocore's endpoint data."""
    from botocore.loaders import create_loader

    for partition in create_loader().load_data("endpoints")["partitions"]:
        if region in partition["regions"]:
            return partition["regions"][region].get("description", region)
    return region


def snapshot(alarm) -> dict:
    return {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "reasonData": alarm.state_reason_data,
        "timestamp": alarm.state_updated_timestamp,
    }


def _history_state(state: dict) -> dict:
    entry: dict[str, Any] = {"stateValue": state["value"], "stateReason": state["reason"]}
    try:
        data = json.loads(state["reasonData"]) if state["reasonData"] else None
    except ValueError:
        data = None
    if data:
        entry["stateReasonData"] = data
    return entry


def notification(alarm, old: dict, new: dict) -> dict:
    """The JSON message CloudWatch publishes to an SNS topic on a state change."""
    account, region = alarm.alarm_arn.split(":")[4], alarm.region_name
    trigger: dict[str, Any] = {"MetricName": alarm.metric_name, "Namespace": alarm.namespace}
    if alarm.extended_statistic:
        trigger.update(
            StatisticType="ExtendedStatistic", ExtendedStatistic=alarm.extended_statistic
        )
    else:
        trigger.update(
            StatisticType="Statistic",
            Statistic=TRIGGER_STATISTIC.get(alarm.statistic, alarm.statistic),
        )
    trigger.update(
        Unit=alarm.unit,
        Dimensions=[{"value": d.value, "name": d.name} for d in alarm.dimensions],
        Period=int(alarm.period),
        EvaluationPeriods=int(alarm.evaluation_periods),
    )
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = int(alarm.datapoints_to_alarm)
    trigger.update(
        ComparisonOperator=alarm.comparison_operator,
        Threshold=float(alarm.threshold),
        TreatMissingData=alarm.treat_missing_data or "",
        EvaluateLowSampleCountPercentile=alarm.evaluate_low_sample_count_percentile or "",
    )
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": aws_time(alarm.configuration_updated_timestamp),
        "NewStateValue": new["value"],
        "NewStateReason": new["reason"],
        "StateChangeTime": aws_time(new["timestamp"]),
        "Region": region_long_name(region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old["value"],
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": trigger,
    }


def state_change_detail(alarm, old: dict, new: dict) -> dict:
    """The `detail` of EventBridge's "CloudWatch Alarm State Change" event."""

    def state(s: dict) -> dict:
        entry = {"value": s["value"], "reason": s["reason"], "timestamp": aws_time(s["timestamp"])}
        if s["reasonData"] and s["reasonData"] != "{}":
            entry["reasonData"] = s["reasonData"]
        return entry

    stat = alarm.extended_statistic or alarm.statistic
    metric = {
        "id": f"m-{abs(hash(alarm.alarm_arn)) % 10**8}",
        "returnData": True,
        "metricStat": {
            "metric": {
                "namespace": alarm.namespace,
                "name": alarm.metric_name,
                "dimensions": {d.name: d.value for d in alarm.dimensions},
            },
            "period": int(alarm.period),
            "stat": stat,
        },
    }
    configuration: dict[str, Any] = {"metrics": [metric]}
    if alarm.description:
        configuration["description"] = alarm.description
    return {
        "alarmName": alarm.name,
        "state": state(new),
        "previousState": state(old),
        "configuration": configuration,
    }
