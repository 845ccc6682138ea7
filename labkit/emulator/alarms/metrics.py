"""Where an alarm's datapoints come from: moto's metric data indexed by metric and time."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any


def _epoch(moment: datetime) -> float:
    # moto keeps naive UTC datetimes for its own clock and aware ones from parsed requests.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


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
