"""Billable usage measured from the APIs' own answers (builds, action executions, deployments,
S3 objects, log streams). `call(service, operation, params)` is boto3 in labkit.observe and an
in-process call in the emulator's Cost Explorer, so both measure the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone

from labkit import prices

Call = Callable[[str, str, dict], dict]
# A resource deleted between listing it and reading it is skipped, not an error of the whole bill.
VANISHED = {
    "ResourceNotFoundException",
    "PipelineNotFoundException",
    "DeploymentDoesNotExistException",
    "NoSuchBucket",
}
GB = 1024**3
V1_FREE_PERIOD = timedelta(days=30)  # a V1 pipeline is not charged in its first 30 days
_EPSILON = datetime.resolution


@dataclass(frozen=True)
class UsageRecord:
    day: date
    service: str
    usage_type: str
    quantity: float
    resource: str

    def as_dict(self) -> dict:
        return asdict(self)


def as_datetime(value) -> datetime | None:
    """Timestamps arrive as datetimes (boto3) or epoch seconds (the JSON wire form)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), timezone.utc)


def _pages(
    call: Call,
    service: str,
    operation: str,
    params: dict,
    items: str,
    token: str = "nextToken",
    out_token: str | None = None,
) -> Iterator:
    params = dict(params)
    while True:
        page = call(service, operation, params)
        yield from page.get(items) or []
        next_token = page.get(out_token or token)
        if not next_token:
            return
        params[token] = next_token


def _chunks(values: list, size: int) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _inside(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


def codebuild_usage(call: Call, start: datetime, end: datetime) -> list[UsageRecord]:
    """Build minutes per compute type, each build rounded up to whole minutes."""
    records = []
    projects = list(_pages(call, "codebuild", "ListProjects", {}, "projects"))
    for project in projects:
        ids = list(
            _pages(call, "codebuild", "ListBuildsForProject", {"projectName": project}, "ids")
        )
        for chunk in _chunks(ids, 100):
            for build in call("codebuild", "BatchGetBuilds", {"ids": chunk}).get("builds", []):
                started = as_datetime(build.get("startTime"))
                ended = as_datetime(build.get("endTime"))
                if not build.get("buildComplete") or not _inside(started, start, end):
                    continue
                env = build.get("environment", {})
                name = prices.compute_type_name(env.get("type", ""), env.get("computeType", ""))
                minutes = prices.billed_minutes((ended - started).total_seconds())
                records.append(
                    UsageRecord(
                        started.date(),
                        prices.CODEBUILD,
                        prices.build_usage_type(name),
                        minutes,
                        project,
                    )
                )
    return records


def codepipeline_usage(call: Call, start: datetime, end: datetime) -> list[UsageRecord]:
    """V1: one active pipeline-month per pipeline that ran in the window (on its first run's
    day); a pipeline in its first 30 days is free, so it counts 0. V2: action-execution minutes,
    rounded up per action; manual approvals are free."""
    records = []
    for summary in _pages(call, "codepipeline", "ListPipelines", {}, "pipelines"):
        name = summary["name"]
        if summary.get("pipelineType", "V1") == "V2":
            for action in _pages(
                call,
                "codepipeline",
                "ListActionExecutions",
                {"pipelineName": name},
                "actionExecutionDetails",
            ):
                started = as_datetime(action.get("startTime"))
                ended = as_datetime(action.get("lastUpdateTime"))
                category = action.get("input", {}).get("actionTypeId", {}).get("category")
                if (
                    category == "Approval"
                    or action.get("status") == "InProgress"
                    or not _inside(started, start, end)
                ):
                    continue
                minutes = prices.billed_minutes((ended - started).total_seconds())
                records.append(
                    UsageRecord(
                        started.date(), prices.CODEPIPELINE, "ActionExecutionMinute", minutes, name
                    )
                )
            continue
        runs = [
            as_datetime(s.get("startTime"))
            for s in _pages(
                call,
                "codepipeline",
                "ListPipelineExecutions",
                {"pipelineName": name},
                "pipelineExecutionSummaries",
            )
        ]
        ran = sorted(r for r in runs if _inside(r, start, end))
        if ran:
            created = as_datetime(summary.get("created")) or ran[0]
            charged = 0 if ran[0] - created < V1_FREE_PERIOD else 1
            records.append(
                UsageRecord(ran[0].date(), prices.CODEPIPELINE, "activePipeline", charged, name)
            )
    return records


def codedeploy_usage(call: Call, start: datetime, end: datetime) -> list[UsageRecord]:
    """Instance updates: one per target of each deployment, EC2 (free) or on-premises (charged)."""
    records = []
    ids = list(_pages(call, "codedeploy", "ListDeployments", {}, "deployments"))
    for chunk in _chunks(ids, 25):
        for info in call("codedeploy", "BatchGetDeployments", {"deploymentIds": chunk}).get(
            "deploymentsInfo", []
        ):
            created = as_datetime(info.get("createTime"))
            if not _inside(created, start, end):
                continue
            target_ids = list(
                _pages(
                    call,
                    "codedeploy",
                    "ListDeploymentTargets",
                    {"deploymentId": info["deploymentId"]},
                    "targetIds",
                )
            )
            on_prem = ec2 = 0
            for batch in _chunks(target_ids, 25):
                found = call(
                    "codedeploy",
                    "BatchGetDeploymentTargets",
                    {"deploymentId": info["deploymentId"], "targetIds": batch},
                )
                for target in found.get("deploymentTargets", []):
                    arn = (target.get("instanceTarget") or {}).get("targetArn", "")
                    if ":ec2:" in arn:
                        ec2 += 1
                    elif arn:
                        on_prem += 1
            app = info.get("applicationName", "")
            if ec2:
                records.append(
                    UsageRecord(created.date(), prices.CODEDEPLOY, "EC2InstanceUpdate", ec2, app)
                )
            if on_prem:
                records.append(
                    UsageRecord(
                        created.date(), prices.CODEDEPLOY, "OnPremInstanceUpdate", on_prem, app
                    )
                )
    return records


def month_days(day: date) -> int:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (following - date(day.year, day.month, 1)).days


def s3_usage(
    objects: list[tuple[str, int, datetime]], start: datetime, end: datetime
) -> list[UsageRecord]:
    """From (bucket, size, last modified): storage as GB-months accrued day by day while the
    object exists, and one PUT per object written in the window (a lower bound of requests)."""
    first, last = start.date(), (end - _EPSILON).date()
    # Objects written on the same day in the same bucket accrue alike: add them up first.
    written: dict[tuple[str, date], list] = {}
    for bucket, size, modified in objects:
        if modified.date() > last:
            continue
        totals = written.setdefault((bucket, modified.date()), [0, 0])
        totals[0] += size
        totals[1] += 1 if _inside(modified, start, end) else 0
    records = []
    for (bucket, day_written), (size, puts) in written.items():
        if puts:
            records.append(
                UsageRecord(day_written, prices.S3, "Requests-Tier1", puts / 1000, bucket)
            )
        day = max(first, day_written)
        while day <= last:
            gb_months = size / GB / month_days(day)
            records.append(UsageRecord(day, prices.S3, "TimedStorage-ByteHrs", gb_months, bucket))
            day = date.fromordinal(day.toordinal() + 1)
    return _merged(records)


def logs_usage(
    streams: list[tuple[str, int, datetime]], start: datetime, end: datetime
) -> list[UsageRecord]:
    """From (log group, stored bytes, first event time): GB ingested on the stream's first day."""
    return _merged(
        [
            UsageRecord(first.date(), prices.CLOUDWATCH, "DataProcessing-Bytes", size / GB, group)
            for group, size, first in streams
            if size and _inside(first, start, end)
        ]
    )


def _merged(records: list[UsageRecord]) -> list[UsageRecord]:
    """One record per (day, usage type, resource): small per-object records add up."""
    totals: dict[tuple, float] = {}
    for r in records:
        key = (r.day, r.service, r.usage_type, r.resource)
        totals[key] = totals.get(key, 0.0) + r.quantity
    return [UsageRecord(*key[:3], quantity, key[3]) for key, quantity in totals.items()]


def s3_objects(call: Call) -> list[tuple[str, int, datetime]]:
    found = []
    for bucket in call("s3", "ListBuckets", {}).get("Buckets", []):
        for obj in _pages(
            call,
            "s3",
            "ListObjectsV2",
            {"Bucket": bucket["Name"]},
            "Contents",
            token="ContinuationToken",
            out_token="NextContinuationToken",
        ):
            found.append(
                (bucket["Name"], int(obj.get("Size", 0)), as_datetime(obj["LastModified"]))
            )
    return found


def log_streams(call: Call, start: datetime) -> list[tuple[str, int, datetime]]:
    """(group, bytes, first event time) per stream. AWS reports a stream's storedBytes as 0
    since 2019; then the group's storedBytes (compressed, so below what was ingested) counts,
    from the group's creation or the window's start."""
    found = []
    for group in _pages(call, "logs", "DescribeLogGroups", {}, "logGroups"):
        name = group["logGroupName"]
        streams = []
        for stream in _pages(
            call, "logs", "DescribeLogStreams", {"logGroupName": name}, "logStreams"
        ):
            first = stream.get("firstEventTimestamp") or stream.get("creationTime")
            if first:
                when = datetime.fromtimestamp(first / 1000, timezone.utc)
                streams.append((name, int(stream.get("storedBytes") or 0), when))
        group_bytes = int(group.get("storedBytes") or 0)
        if group_bytes and not any(size for _, size, _ in streams):
            created = datetime.fromtimestamp((group.get("creationTime") or 0) / 1000, timezone.utc)
            streams = [(name, group_bytes, max(created, start))]
        found += streams
    return found


def measure(call: Call, start: datetime, end: datetime) -> list[UsageRecord]:
    """Every billable record in [start, end) for the services the course uses."""
    records = (
        codebuild_usage(call, start, end)
        + codepipeline_usage(call, start, end)
        + codedeploy_usage(call, start, end)
    )
    records += s3_usage(s3_objects(call), start, end)
    records += logs_usage(log_streams(call, start), start, end)
    return sorted(records, key=lambda r: (r.day, r.service, r.usage_type, r.resource))


def priced(records: list[UsageRecord]) -> list[dict]:
    """Each record with its list cost and its cost after the monthly free tier (in day order)."""
    free = prices.FreeTier()
    rows = []
    for r in sorted(records, key=lambda r: (r.day, r.usage_type, r.resource)):
        try:
            list_cost, with_free = free.charge(r.usage_type, r.quantity, r.day.strftime("%Y-%m"))
        except KeyError:  # a compute type the table does not price: shown, not guessed
            list_cost = with_free = None
        rows.append({**r.as_dict(), "cost": list_cost, "cost_after_free_tier": with_free})
    return rows
