"""How an alarm is judged: each period's statistic, AWS's M-out-of-N rules and their reasons."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from labkit.emulator.alarms.messages import aws_time

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


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
