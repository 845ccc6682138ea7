"""DescribeAlarmHistory's records: kept per account and region, filtered and paged."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

HISTORY_LIMIT = 10_000  # items kept per account and region (AWS keeps 30 days)


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
