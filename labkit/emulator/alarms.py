"""CloudWatch alarms that really evaluate: a background loop judges moto's metric alarms against
moto's metric data, sets their state, records their history and sends their actions."""

from __future__ import annotations

import bisect
import inspect
import json
import logging
import math
import os
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from functools import cache
from typing import Any

log = logging.getLogger("labkit.emulator.alarms")

DEFAULT_INTERVAL = 2.0
INTERVAL_ENV = "LABKIT_ALARM_INTERVAL"
HISTORY_LIMIT = 10_000  # items kept per account and region (AWS keeps 30 days)

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
# The SNS message names standard statistics the way CloudWatch's notifier does.
TRIGGER_STATISTIC = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}
ACTION_LIST = {ALARM: "alarm_actions", OK: "ok_actions", INSUFFICIENT: "insufficient_data_actions"}


# --- evaluation: pure functions of an alarm's settings and the datapoints of its periods --------


class Period:
    """One evaluation period of an alarm: its start (epoch seconds) and its statistic, if any data."""

    def __init__(self, start: float, value: float | None, sample_count: float):
        self.start = start
        self.value = value
        self.sample_count = sample_count


class Verdict:
    """What one evaluation concluded: a new state with AWS's reason, or None to keep the state."""

    def __init__(self, state: str | None, reason: str = "", reason_data: dict | None = None):
        self.state = state
        self.reason = reason
        self.reason_data = reason_data or {}


def statistic_of(
    datums: list, statistic: str | None, percentile: float | None
) -> tuple[float | None, float]:
    """(value, sample count) of one period's datapoints; value is None when it cannot be computed."""
    singles = [d.value for d in datums if hasattr(d, "value")]
    sets = [d for d in datums if hasattr(d, "sample_count")]
    count = len(singles) + sum(s.sample_count for s in sets)
    if not count:
        return None, 0.0
    if percentile is not None:
        # Percentiles need raw values. As on AWS, a StatisticSet gives them only when all its
        # samples are equal (Minimum == Maximum, e.g. SampleCount 1).
        equal_sets = [s for s in sets if s.min == s.max]
        raw = singles + [
            s.min for s in equal_sets for _ in range(min(int(s.sample_count), 100_000))
        ]
        if not raw:
            return None, count
        ordered = sorted(raw)
        rank = max(1, math.ceil(percentile / 100 * len(ordered)))  # nearest-rank percentile
        return float(ordered[rank - 1]), count
    total = sum(singles) + sum(s.sum for s in sets)
    if statistic == "SampleCount":
        return float(count), count
    if statistic == "Sum":
        return float(total), count
    if statistic == "Average":
        return total / count, count
    if statistic == "Minimum":
        return float(min(singles + [s.min for s in sets])), count
    if statistic == "Maximum":
        return float(max(singles + [s.max for s in sets])), count
    return None, count


def percentile_of(extended_statistic: str | None) -> float | None:
    """The number in a `pNN` / `pNN.N` extended statistic, or None for anything else."""
    if not extended_statistic or not extended_statistic.startswith("p"):
        return None
    try:
        value = float(extended_statistic[1:])
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


def judge(alarm, periods: list[Period], now: datetime) -> Verdict:
    """Apply AWS's rules (M out of N, missing-data treatment) to the alarm's last N periods."""
    words, breaches = COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    n = len(periods)
    m = min(int(alarm.datapoints_to_alarm or n), n)
    treatment = alarm.treat_missing_data or "missing"
    present = [p for p in periods if p.value is not None]
    breaching = [p for p in present if breaches(p.value, threshold)]
    calm = [p for p in present if not breaches(p.value, threshold)]
    missing = n - len(present)
    data = reason_data(alarm, periods, now)

    if not present:
        if treatment == "ignore":
            return Verdict(None)
        if treatment in ("breaching", "notBreaching"):
            label = "Breaching" if treatment == "breaching" else "NonBreaching"
            state = ALARM if treatment == "breaching" else OK
            reason = (
                f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
                f"{_count(n, 'missing datapoint')} {_was(n)} treated as [{label}]."
            )
            return Verdict(state, reason, data)
        return Verdict(
            INSUFFICIENT, f"Insufficient Data: {_count(n, 'datapoint')} {_was(n)} unknown.", data
        )

    def to_alarm(extra: str = "") -> Verdict:
        listed = _listing(breaching)
        reason = (
            f"Threshold Crossed: {len(breaching)} out of the last {n} datapoints [{listed}] "
            f"{_was(len(breaching))} {words} the threshold ({threshold!r}){extra} "
            f"(minimum {_count(m, 'datapoint')} for OK -> ALARM transition)."
        )
        return Verdict(ALARM, reason, data)

    def to_ok() -> Verdict:
        needed = n - m + 1
        reason = (
            f"Threshold Crossed: {len(calm)} out of the last {n} datapoints [{_listing(calm)}] "
            f"{_was(len(calm))} not {words} the threshold ({threshold!r}) "
            f"(minimum {_count(needed, 'datapoint')} for ALARM -> OK transition)."
        )
        return Verdict(OK, reason, data)

    if len(breaching) >= m:
        return to_alarm()
    if len(present) >= m:
        return to_ok()
    if treatment == "notBreaching":
        if calm:
            return to_ok()
        # Only breaching datapoints, but too few of them once the gaps count as good.
        reason = (
            f"Threshold Crossed: {len(breaching)} out of the last {n} datapoints [{_listing(breaching)}] "
            f"{_was(len(breaching))} {words} the threshold ({threshold!r}) and "
            f"{_count(missing, 'missing datapoint')} {_was(missing)} treated as [NonBreaching] "
            f"(minimum {_count(m, 'datapoint')} for OK -> ALARM transition)."
        )
        return Verdict(OK, reason, data)
    # Fewer real datapoints than DatapointsToAlarm: AWS fills the gaps with the treatment.
    if treatment == "breaching":
        if len(breaching) + missing >= m:
            return to_alarm(
                f" and {_count(missing, 'missing datapoint')} {_was(missing)} treated as [Breaching]"
            )
        return to_ok()
    if not calm:  # every real datapoint breaches
        return Verdict(None) if treatment == "ignore" else to_alarm()
    return to_ok()


def reason_data(alarm, periods: list[Period], now: datetime) -> dict:
    """StateReasonData as AWS writes it (recentDatapoints oldest first, evaluated newest first)."""
    data: dict[str, Any] = {"version": "1.0", "queryDate": aws_time(now)}
    present = [p for p in periods if p.value is not None]
    if present:
        data["startDate"] = aws_time(_utc(periods[0].start))
    if alarm.unit:
        data["unit"] = alarm.unit
    if alarm.extended_statistic:
        data["extendedStatistic"] = alarm.extended_statistic
    else:
        data["statistic"] = alarm.statistic
    data["period"] = int(alarm.period)
    data["recentDatapoints"] = [p.value for p in present]
    data["threshold"] = float(alarm.threshold)
    evaluated = []
    for period in reversed(periods):
        point: dict[str, Any] = {"timestamp": aws_time(_utc(period.start))}
        if period.value is not None:
            point["sampleCount"] = float(period.sample_count)
            point["value"] = period.value
        evaluated.append(point)
    data["evaluatedDatapoints"] = evaluated
    return data


def _listing(periods: list[Period]) -> str:
    """`5.0 (26/11/26 10:01:00), 3.0 (26/11/26 10:00:00)`: newest first, as AWS lists them."""
    return ", ".join(
        f"{p.value!r} ({_utc(p.start):%d/%m/%y %H:%M:%S})"
        for p in sorted(periods, key=lambda p: -p.start)
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _was(number: int) -> str:
    return "was" if number == 1 else "were"


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _epoch(moment: datetime) -> float:
    # moto keeps naive UTC datetimes for its own clock and aware ones from parsed requests.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


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


def metric_key(namespace: str, name: str, dimensions) -> tuple:
    """A metric's identity: dimensions must match exactly, in any order."""
    return namespace, name, frozenset((d.name, d.value) for d in dimensions)


class MetricIndex:
    """One backend's datapoints grouped by metric and sorted by time, extended on each tick
    (moto only appends), so an evaluation reads just its window however long the series grows."""

    def __init__(self, backend):
        self.backend = backend
        self.seen = 0
        self.series: dict[tuple, list[tuple[float, Any]]] = defaultdict(list)

    def refresh(self) -> None:
        data = self.backend.metric_data
        if len(data) < self.seen:  # the list was replaced or cut: start over
            self.seen = 0
            self.series.clear()
        fresh = data[self.seen :]
        self.seen += len(fresh)
        for datum in fresh:
            key = metric_key(datum.namespace, datum.name, datum.dimensions)
            # Datapoints may carry any Timestamp, so keep each series in time order.
            bisect.insort(self.series[key], (_epoch(datum.timestamp), datum), key=_stamp)

    def datapoints(self, key: tuple, since: float) -> list[tuple[float, Any]]:
        """The metric's datapoints stamped at or after `since` (epoch seconds)."""
        series = self.series.get(key, [])
        points = series[bisect.bisect_left(series, since, key=_stamp) :]
        if key[0] == "AWS/S3":  # moto computes S3's storage metrics on demand
            points += [
                (_epoch(d.timestamp), d)
                for d in self.backend.aws_metric_data
                if metric_key(d.namespace, d.name, d.dimensions) == key
            ]
        return points


def _stamp(point: tuple[float, Any]) -> float:
    return point[0]


def periods_for(alarm, points: list[tuple[float, Any]], now: float) -> list[Period]:
    """The alarm's last N periods, aligned to multiples of Period. The current, still-open period
    counts once it has data, so an alarm reacts within one tick (AWS waits for it to close)."""
    length = int(alarm.period)
    n = int(alarm.evaluation_periods)
    current = math.floor(now / length) * length
    if alarm.unit:
        points = [(t, d) for t, d in points if d.unit == alarm.unit]
    buckets: dict[float, list] = defaultdict(list)
    for stamp, datum in points:
        start = math.floor(stamp / length) * length
        if current - n * length <= start <= current:
            buckets[start].append(datum)
    newest = current if buckets.get(current) else current - length
    percentile = percentile_of(alarm.extended_statistic)
    periods = []
    for start in (newest - i * length for i in range(n - 1, -1, -1)):
        value, count = statistic_of(buckets.get(start, []), alarm.statistic, percentile)
        periods.append(Period(start, value, count))
    return periods


def too_few_samples(alarm, periods: list[Period]) -> bool:
    """EvaluateLowSampleCountPercentile=ignore: a percentile over too few samples means nothing
    (p99 needs 100 samples), so the alarm keeps its state."""
    percentile = percentile_of(alarm.extended_statistic)
    if (
        alarm.evaluate_low_sample_count_percentile != "ignore"
        or percentile is None
        or percentile >= 100
    ):
        return False
    needed = math.ceil(1 / (1 - percentile / 100))
    return any(p.value is not None and p.sample_count < needed for p in periods)


# --- history ------------------------------------------------------------------------------------


class AlarmHistory:
    """DescribeAlarmHistory's records, kept apart from moto's alarms because AWS keeps an alarm's
    history after the alarm is updated or deleted (moto replaces or drops the alarm object)."""

    def __init__(self):
        self._items: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self._lock = threading.Lock()

    def add(
        self,
        account_id: str,
        region: str,
        alarm_name: str,
        item_type: str,
        summary: str,
        data: dict,
        when: datetime | None = None,
    ) -> None:
        item = {
            "AlarmName": alarm_name,
            "AlarmType": "MetricAlarm",
            "Timestamp": _as_utc(when) or datetime.now(timezone.utc),
            "HistoryItemType": item_type,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data, separators=(",", ":")),
        }
        with self._lock:
            items = self._items[(account_id, region)]
            items.append(item)
            del items[:-HISTORY_LIMIT]

    def describe(self, account_id: str, region: str, params: dict) -> dict:
        """DescribeAlarmHistory's answer for the request's filters, newest first by default."""
        with self._lock:
            items = list(self._items.get((account_id, region), ()))
        name = params.get("AlarmName")
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        kind = params.get("HistoryItemType")
        start, end = _as_utc(params.get("StartDate")), _as_utc(params.get("EndDate"))
        chosen = [
            i
            for i in items
            if (not name or i["AlarmName"] == name)
            and i["AlarmType"] in types
            and (not kind or i["HistoryItemType"] == kind)
            and (start is None or i["Timestamp"] >= start)
            and (end is None or i["Timestamp"] <= end)
        ]
        if (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending":
            chosen.reverse()
        offset = _token_offset(params.get("NextToken"), len(chosen))
        size = int(params.get("MaxRecords") or 100)
        page = chosen[offset : offset + size]
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + size < len(chosen):
            result["NextToken"] = f"history-{offset + size}"
        return result

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _as_utc(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _token_offset(token: str | None, total: int) -> int:
    if not token:
        return 0
    from moto.cloudwatch.exceptions import CloudWatchException

    prefix, _, number = token.partition("-")
    if prefix != "history" or not number.isdigit() or int(number) > total:
        raise CloudWatchException("InvalidNextToken", "The service returned an invalid next token.")
    return int(number)


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
