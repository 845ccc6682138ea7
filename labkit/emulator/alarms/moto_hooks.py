"""Patches to moto's CloudWatch so alarm state, actions and history behave as on AWS."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from labkit.emulator.alarms.messages import snapshot
from labkit.emulator.alarms.rules import INSUFFICIENT

if TYPE_CHECKING:
    from labkit.emulator.alarms.evaluator import AlarmEvaluator


def check_alarm_settings(settings: dict) -> None:
    """PutMetricAlarm checks AWS makes and moto does not; raise moto's errors so they serialise."""
    from moto.cloudwatch.exceptions import (
        InvalidParameterCombination,
        InvalidParameterValue,
        ValidationError,
    )

    if settings.get("rule") or settings.get("metric_data_queries"):
        return  # composite and metric-math alarms are stored, not evaluated
    if bool(settings.get("statistic")) == bool(settings.get("extended_statistic")):
        raise InvalidParameterCombination(
            "Exactly one of the parameters Statistic and ExtendedStatistic must be specified."
        )
    period = int(settings.get("period") or 0)
    periods = int(settings.get("evaluation_periods") or 0)
    if period not in (10, 20, 30) and (period <= 0 or period % 60):
        raise InvalidParameterValue(
            f"The value {period} for parameter Period is not supported. "
            "Valid values are 10, 20, 30 and any multiple of 60."
        )
    limit, span = (86_400, "one day") if period < 3600 else (604_800, "7 days")
    if period * periods > limit:
        raise ValidationError(
            f"Period ({period}) multiplied by EvaluationPeriods ({periods}) must not exceed {span}."
        )
    to_alarm = settings.get("datapoints_to_alarm")
    if to_alarm is not None and int(to_alarm) > periods:
        raise ValidationError(
            f"DatapointsToAlarm ({to_alarm}) must be less than or equal to EvaluationPeriods ({periods})."
        )


# --- hooks into moto ----------------------------------------------------------------------------

_hooks_installed = False


def install_moto_hooks(evaluator: AlarmEvaluator) -> None:
    """Make moto's CloudWatch behave as AWS does around alarm state, once per process:
    - a new alarm starts in INSUFFICIENT_DATA (moto: OK); updating an alarm keeps its state and
      history (moto replaces it with a fresh OK alarm);
    - SetAlarmState runs the new state's actions at once, as on AWS;
    - DescribeAlarmHistory exists (moto 5.2.5 has no such operation) and reads our history."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    put_metric_alarm = CloudWatchBackend.put_metric_alarm
    set_alarm_state = CloudWatchBackend.set_alarm_state
    delete_alarms = CloudWatchBackend.delete_alarms

    signature = inspect.signature(put_metric_alarm)

    def put_metric_alarm_keeping_state(backend, *args, **kwargs):
        settings = signature.bind(backend, *args, **kwargs).arguments
        check_alarm_settings(settings)  # before moto stores anything: nothing half-created
        name = settings["name"]
        with evaluator.lock:
            previous = backend.alarms.get(name)
            if previous is not None:
                evaluator.release_manual_state(previous)  # a new configuration is evaluated soon
            alarm = put_metric_alarm(backend, *args, **kwargs)
            if previous is not None:
                for field in (
                    "state_value",
                    "state_reason",
                    "state_reason_data",
                    "state_updated_timestamp",
                    "history",
                ):
                    setattr(alarm, field, getattr(previous, field))
            else:
                alarm.state_value = INSUFFICIENT
        verb = "updated" if previous is not None else "created"
        evaluator.history.add(
            backend.account_id,
            backend.region_name,
            alarm.name,
            "ConfigurationUpdate",
            f'Alarm "{alarm.name}" {verb}',
            {"version": "1.0", "type": "Update" if previous is not None else "Create"},
            alarm.configuration_updated_timestamp,
        )
        return alarm

    def set_alarm_state_with_actions(backend, alarm_name, *args, **kwargs):
        with evaluator.lock:
            alarm = backend.alarms.get(alarm_name)
            old = snapshot(alarm) if alarm is not None else None
            set_alarm_state(backend, alarm_name, *args, **kwargs)
            new = snapshot(alarm) if alarm is not None else None
            if alarm is not None:
                evaluator.hold_manual_state(backend, alarm)
        if old is not None and old["value"] != new["value"]:
            evaluator.state_changed(backend, alarm, old, new)

    def delete_alarms_with_history(backend, alarm_names):
        gone = [name for name in alarm_names if name in backend.alarms]
        delete_alarms(backend, alarm_names)
        for name in gone:
            evaluator.history.add(
                backend.account_id,
                backend.region_name,
                name,
                "ConfigurationUpdate",
                f'Alarm "{name}" deleted',
                {"version": "1.0", "type": "Delete"},
            )

    def describe_alarm_history(response) -> ActionResult:
        params = {
            key: response._get_param(key)
            for key in (
                "AlarmName",
                "AlarmTypes",
                "HistoryItemType",
                "StartDate",
                "EndDate",
                "MaxRecords",
                "NextToken",
                "ScanBy",
            )
        }
        return ActionResult(
            evaluator.history.describe(response.current_account, response.region, params)
        )

    CloudWatchBackend.put_metric_alarm = put_metric_alarm_keeping_state
    CloudWatchBackend.set_alarm_state = set_alarm_state_with_actions
    CloudWatchBackend.delete_alarms = delete_alarms_with_history
    CloudWatchResponse.describe_alarm_history = describe_alarm_history
