"""The background loop that evaluates every metric alarm in moto and acts on state changes."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from labkit.emulator.alarms.history import AlarmHistory
from labkit.emulator.alarms.messages import (
    TRIGGER_STATISTIC,
    _history_state,
    notification,
    region_long_name,
    snapshot,
    state_change_detail,
)
from labkit.emulator.alarms.metrics import MetricIndex, _epoch, metric_key
from labkit.emulator.alarms.moto_hooks import install_moto_hooks
from labkit.emulator.alarms.rules import (
    ALARM,
    COMPARISONS,
    INSUFFICIENT,
    OK,
    _utc,
    judge,
    percentile_of,
    periods_for,
    too_few_samples,
)

log = logging.getLogger("labkit.emulator.alarms")

DEFAULT_INTERVAL = 2.0
INTERVAL_ENV = "LABKIT_ALARM_INTERVAL"
ACTION_LIST = {ALARM: "alarm_actions", OK: "ok_actions", INSUFFICIENT: "insufficient_data_actions"}


# --- the evaluator ------------------------------------------------------------------------------


class AlarmEvaluator:
    """Evaluates every metric alarm in moto on a short interval and acts on state changes."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.interval = interval_from_env()
        self.history = AlarmHistory()
        # One lock orders evaluations against SetAlarmState/PutMetricAlarm from request threads.
        self.lock = threading.RLock()
        self._indexes: dict[int, MetricIndex] = {}
        self._told: set[tuple] = set()  # (alarm ARN, what) already logged, so it is logged once
        # alarm ARN -> (hold until, len(metric_data) then) for states set with SetAlarmState
        self._manual: dict[str, tuple[float, int]] = {}
        runtime.on_reset(self.reset)
        install_moto_hooks(self)

    def reset(self) -> None:
        self.history.clear()
        with self.lock:
            self._indexes.clear()
            self._told.clear()
            self._manual.clear()

    def run_forever(self) -> None:
        log.info("alarm evaluator running every %ss", self.interval)
        while not self.runtime.stopping.wait(self.interval):
            try:
                self.evaluate_all()
            except Exception:  # the loop must outlive any one bad alarm or moto surprise
                log.exception("alarm evaluation failed; trying again next tick")

    def evaluate_all(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        for _account, regions in list(cloudwatch_backends.items()):
            for _region, backend in list(regions.items()):
                if backend.alarms:
                    self.evaluate_backend(backend)

    def evaluate_backend(self, backend) -> None:
        index = self._indexes.get(id(backend))
        if index is None or index.backend is not backend:
            index = self._indexes[id(backend)] = MetricIndex(backend)
        index.refresh()
        for alarm in list(backend.alarms.values()):
            if self.runtime.stopping.is_set():
                return
            try:
                self.evaluate_alarm(backend, index, alarm)
            except Exception:
                log.exception("alarm %s: evaluation failed", alarm.name)

    def evaluate_alarm(self, backend, index: MetricIndex, alarm) -> None:
        problem = unsupported(alarm)
        if problem:
            self._tell_once(
                (alarm.alarm_arn, "unsupported"),
                "alarm %s is not evaluated: %s",
                alarm.name,
                problem,
            )
            return
        now = time.time()
        # The window reaches back at most N + 1 periods (N when the open period has data).
        since = now - (int(alarm.evaluation_periods) + 2) * int(alarm.period)
        key = metric_key(alarm.namespace, alarm.metric_name, alarm.dimensions)
        if self._held(backend, alarm, key, now):
            return
        points = index.datapoints(key, since)
        periods = periods_for(alarm, points, now)
        if too_few_samples(alarm, periods):
            return
        verdict = judge(alarm, periods, _utc(now))
        with self.lock:
            if backend.alarms.get(alarm.name) is not alarm:
                return  # replaced or deleted while we evaluated
            if self._held(backend, alarm, key, time.time()):
                return  # SetAlarmState came in while we evaluated
            if verdict.state is None or verdict.state == alarm.state_value:
                return
            old = snapshot(alarm)
            alarm.update_state(
                verdict.reason,
                json.dumps(verdict.reason_data, separators=(",", ":")),
                verdict.state,
            )
            new = snapshot(alarm)
        # Actions run outside the lock: an SNS HTTP subscriber may call back into the emulator.
        self.state_changed(backend, alarm, old, new)

    # --- what a state change sets off ---------------------------------------------------------
    def state_changed(self, backend, alarm, old: dict, new: dict) -> None:
        """Record the transition and run the new state's actions (SNS) and the EventBridge event."""
        account, region = backend.account_id, backend.region_name
        log.info("alarm %s: %s -> %s (%s)", alarm.name, old["value"], new["value"], new["reason"])
        self.history.add(
            account,
            region,
            alarm.name,
            "StateUpdate",
            f"Alarm updated from {old['value']} to {new['value']}",
            {"version": "1.0", "oldState": _history_state(old), "newState": _history_state(new)},
            new["timestamp"],
        )
        if alarm.actions_enabled:
            for action in list(getattr(alarm, ACTION_LIST[new["value"]]) or []):
                self.run_action(account, region, alarm, action, old, new)
        try:
            self.runtime.events.put_event(
                account,
                region,
                "aws.cloudwatch",
                "CloudWatch Alarm State Change",
                state_change_detail(alarm, old, new),
                [alarm.alarm_arn],
            )
        except Exception as exc:  # an event bus problem must not stop alarm evaluation
            log.warning("alarm %s: could not send the state-change event: %s", alarm.name, exc)

    def run_action(
        self, account: str, region: str, alarm, action: str, old: dict, new: dict
    ) -> None:
        if action.split(":")[2:3] != ["sns"]:
            self._tell_once(
                (alarm.alarm_arn, action),
                "alarm %s: action %s is not emulated (only SNS topics are); skipped",
                alarm.name,
                action,
            )
            self.history.add(
                account,
                region,
                alarm.name,
                "Action",
                f"Failed to execute action {action}. Received error: "
                "the labkit emulator runs SNS actions only",
                {"actionState": "Failed", "notificationResource": action},
            )
            return
        from moto.sns.models import sns_backends

        message = notification(alarm, old, new)
        subject = f'{new["value"]}: "{alarm.name}" in {region_long_name(region)}'[:100]
        try:
            _, _, _, topic_region, topic_account, _ = action.split(":", 5)
            sns_backends[topic_account][topic_region].publish(
                json.dumps(message, separators=(",", ":")), arn=action, subject=subject
            )
        except Exception as exc:
            log.warning("alarm %s: publishing to %s failed: %s", alarm.name, action, exc)
            self.history.add(
                account,
                region,
                alarm.name,
                "Action",
                f"Failed to execute action {action}. Received error: {exc}",
                {"actionState": "Failed", "notificationResource": action},
            )
            return
        self.history.add(
            account,
            region,
            alarm.name,
            "Action",
            f"Successfully executed action {action}",
            {
                "actionState": "Succeeded",
                "notificationResource": action,
                "stateUpdateTimestamp": int(_epoch(new["timestamp"]) * 1000),
                "publishedMessage": message,
            },
        )

    def hold_manual_state(self, backend, alarm) -> None:
        """Keep a state set with SetAlarmState until the alarm's next scheduled evaluation. AWS
        evaluates an alarm once per period (at most a minute apart), so a manual state lasts up
        to that long there; here it lasts one period (at most 60 s) or until new data arrives."""
        hold = min(int(alarm.period or 60), 60)
        with self.lock:
            self._manual[alarm.alarm_arn] = (time.time() + hold, len(backend.metric_data))

    def release_manual_state(self, alarm) -> None:
        with self.lock:
            self._manual.pop(alarm.alarm_arn, None)

    def _held(self, backend, alarm, key: tuple, now: float) -> bool:
        hold = self._manual.get(alarm.alarm_arn)
        if hold is None:
            return False
        until, seen = hold
        fresh = backend.metric_data[seen:]
        if now < until and not any(
            metric_key(d.namespace, d.name, d.dimensions) == key for d in fresh
        ):
            return True
        self._manual.pop(alarm.alarm_arn, None)
        return False

    def _tell_once(self, key: tuple, message: str, *args) -> None:
        if key not in self._told:
            self._told.add(key)
            log.warning(message, *args)


def unsupported(alarm) -> str | None:
    """Why the evaluator leaves an alarm alone, or None when it can evaluate it."""
    if getattr(alarm, "rule", None):
        return "composite alarms are not evaluated by the emulator"
    if alarm.comparison_operator not in COMPARISONS:
        return f"{alarm.comparison_operator} needs an anomaly detection band, which the emulator does not compute"
    if alarm.metric_data_queries:
        return "alarms on metric math or several metrics (Metrics=[...]) are not evaluated by the emulator"
    if alarm.extended_statistic and percentile_of(alarm.extended_statistic) is None:
        return f"extended statistic {alarm.extended_statistic} is not computed (only percentiles pNN are)"
    if not alarm.extended_statistic and alarm.statistic not in TRIGGER_STATISTIC:
        return f"statistic {alarm.statistic!r} is unknown"
    if not alarm.period or not alarm.evaluation_periods:
        return "Period and EvaluationPeriods are required"
    return None


def interval_from_env() -> float:
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        log.warning(
            "%s=%r is not a number of seconds; using %s", INTERVAL_ENV, raw, DEFAULT_INTERVAL
        )
        return DEFAULT_INTERVAL
    return max(value, 0.05)
