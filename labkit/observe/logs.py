"""CloudWatch Logs for the course: follow a running build's log and search with FilterLogEvents
(Logs Insights queries are in labkit.observe.insights)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pandas as pd


def tail(
    lab,
    log_group: str,
    stream: str,
    until: Callable[[], bool] | None = None,
    timeout: float = 900,
    poll: float = 1.0,
    out: Callable[[str], None] = print,
) -> list[str]:
    """Print a log stream's lines as they arrive, until `until()` is true and nothing new came
    (or `timeout` seconds). Returns every line printed."""
    logs = lab.client("logs")
    lines: list[str] = []
    token, deadline = None, time.monotonic() + timeout
    while True:
        finished = until() if until else True
        params = {"logGroupName": log_group, "logStreamName": stream, "startFromHead": True}
        if token:
            params["nextToken"] = token
        try:
            page = logs.get_log_events(**params)
        except logs.exceptions.ResourceNotFoundException:
            page = {"events": [], "nextForwardToken": token}  # the stream is not created yet
        for event in page["events"]:
            line = event["message"].rstrip("\n")
            lines.append(line)
            out(line)
        fresh = page.get("nextForwardToken") != token and page["events"]
        token = page.get("nextForwardToken") or token
        if (finished and not fresh) or time.monotonic() > deadline:
            return lines
        if not fresh:
            time.sleep(poll)


def tail_build(
    lab,
    build_id: str,
    timeout: float = 900,
    poll: float = 1.0,
    out: Callable[[str], None] = print,
) -> list[str]:
    """Follow a CodeBuild build's log (group and stream from BatchGetBuilds) until it ends."""
    codebuild = lab.client("codebuild")

    def build() -> dict:
        return codebuild.batch_get_builds(ids=[build_id])["builds"][0]

    deadline = time.monotonic() + timeout
    info = build()
    while not info.get("logs", {}).get("streamName") and time.monotonic() < deadline:
        time.sleep(0.5)
        info = build()
    logs = info.get("logs", {})
    if not logs.get("streamName"):
        raise TimeoutError(f"build {build_id} has no log stream after {timeout} s")
    return tail(
        lab,
        logs["groupName"],
        logs["streamName"],
        until=lambda: build()["buildComplete"],
        timeout=timeout,
        poll=poll,
        out=out,
    )


def search_logs(
    lab,
    group: str,
    pattern: str = "",
    since: timedelta | datetime = timedelta(hours=1),
    until: datetime | None = None,
    stream_prefix: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """FilterLogEvents over every page: columns timestamp, stream, message."""
    logs = lab.client("logs")
    start = since if isinstance(since, datetime) else datetime.now(timezone.utc) - since
    params = {"logGroupName": group, "startTime": _ms(start)}
    if pattern:
        params["filterPattern"] = pattern
    if until:
        params["endTime"] = _ms(until)
    if stream_prefix:
        params["logStreamNamePrefix"] = stream_prefix
    rows = []
    while True:
        page = logs.filter_log_events(**params)
        rows += [
            {
                "timestamp": e["timestamp"],
                "stream": e["logStreamName"],
                "message": e["message"].rstrip("\n"),
            }
            for e in page.get("events", [])
        ]
        if not page.get("nextToken") or (limit and len(rows) >= limit):
            break
        params["nextToken"] = page["nextToken"]
    frame = pd.DataFrame(
        rows[:limit] if limit else rows, columns=["timestamp", "stream", "message"]
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    return frame.sort_values("timestamp", ignore_index=True)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
