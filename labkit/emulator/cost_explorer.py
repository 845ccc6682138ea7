"""Cost Explorer's GetCostAndUsage answered from what the emulator measured (builds, action
minutes, deployments, S3 objects, log bytes), priced by labkit.prices, day by day."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

from labkit import metering, prices
from labkit.emulator.context import RequestContext
from labkit.emulator.json_api import AWSError, JsonService, ValidationException

METRICS = (
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "NormalizedUsageAmount",
    "UnblendedCost",
    "UsageQuantity",
)
GROUP_KEYS = {"SERVICE": "service", "USAGE_TYPE": "usage_type"}


class CostExplorer(JsonService):
    """Only GetCostAndUsage is answered here; moto serves Cost Explorer's other operations."""

    service_name = "ce"

    def get_cost_and_usage(self, params: dict, ctx: RequestContext) -> dict:
        start, end = _time_period(params["TimePeriod"])
        granularity = params["Granularity"]
        if granularity not in ("DAILY", "MONTHLY"):
            raise ValidationException(
                f"Granularity {granularity} is not emulated: labkit's Cost Explorer answers "
                "DAILY and MONTHLY."
            )
        metrics = params["Metrics"]
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValidationException(
                f"Metrics {unknown} are not valid. Valid metrics: {', '.join(METRICS)}."
            )
        group_by = params.get("GroupBy") or []
        if len(group_by) > 2:
            raise ValidationException("GroupBy takes at most 2 groupings.")
        for group in group_by:
            dimension = group.get("Type") == "DIMENSION" and group.get("Key") in GROUP_KEYS
            if not dimension and not (group.get("Type") == "TAG" and group.get("Key")):
                raise ValidationException(
                    f"GroupBy {group} is not emulated: labkit's Cost Explorer groups by the "
                    "DIMENSION keys SERVICE and USAGE_TYPE, and by TAG (a tag key)."
                )
        wanted = _filter(params.get("Filter"))
        if params.get("NextPageToken"):
            raise AWSError("The next page token is not valid.", code="InvalidNextTokenException")

        # From the first of the month: the free tier is used up in day order within a month.
        begin = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
        finish = datetime(end.year, end.month, end.day, tzinfo=timezone.utc)
        rows = [
            r
            for r in metering.priced(metering.measure(self._caller(ctx), begin, finish))
            if wanted(r)
        ]
        keys = []
        tags = self._tagger(ctx)  # each resource's tags read once per request
        for g in group_by:
            if g["Type"] == "TAG":
                # As on AWS: "<key>$<value>", or "<key>$" for usage of an untagged resource.
                field = f"tag:{g['Key']}"
                for row in rows:
                    row[field] = f"{g['Key']}${tags(row['service'], row['resource']).get(g['Key'], '')}"
                keys.append(field)
            else:
                keys.append(GROUP_KEYS[g["Key"]])
        return {
            "GroupDefinitions": [{"Type": g["Type"], "Key": g["Key"]} for g in group_by],
            "ResultsByTime": [
                _result(period, rows, metrics, keys) for period in _periods(start, end, granularity)
            ],
            "DimensionValueAttributes": [],
        }

    def _caller(self, ctx: RequestContext) -> metering.Call:
        """Measure through the same operations a learner's boto3 calls would use."""

        def call(service: str, operation: str, params: dict) -> dict:
            if service in ("s3", "logs"):
                return _moto_read(service, operation, params, ctx)
            owner = self.runtime.service(service)
            try:
                return owner.handle(operation, json.dumps(params).encode(), ctx)
            except AWSError as exc:
                if exc.code in metering.VANISHED:
                    return {}
                raise

        return call

    def _tagger(self, ctx: RequestContext):
        """(service, resource name) -> the resource's tags, each resource read once."""
        call = self._caller(ctx)
        known: dict[tuple[str, str], dict] = {}

        def tags(service: str, resource: str) -> dict[str, str]:
            if (service, resource) not in known:
                try:
                    known[(service, resource)] = _read_tags(call, service, resource, ctx)
                except (AWSError, KeyError):  # deleted since it was used: no tags to read
                    known[(service, resource)] = {}
            return known[(service, resource)]

        return tags


def _read_tags(call, service: str, resource: str, ctx: RequestContext) -> dict[str, str]:
    prefix = f"arn:aws:{{}}:{ctx.region}:{ctx.account_id}:"
    if service == prices.CODEBUILD:
        projects = call("codebuild", "BatchGetProjects", {"names": [resource]}).get("projects")
        return {t["key"]: t["value"] for t in (projects[0].get("tags") or [])} if projects else {}
    if service == prices.CODEPIPELINE:
        found = call("codepipeline", "ListTagsForResource",
                     {"resourceArn": prefix.format("codepipeline") + resource})
        return {t["key"]: t["value"] for t in found.get("tags", [])}
    if service == prices.CODEDEPLOY:
        found = call("codedeploy", "ListTagsForResource",
                     {"ResourceArn": prefix.format("codedeploy") + f"application:{resource}"})
        return {t["Key"]: t["Value"] for t in found.get("Tags", [])}
    if service == prices.S3:
        found = call("s3", "GetBucketTagging", {"Bucket": resource})
        return {t["Key"]: t["Value"] for t in found.get("TagSet", [])}
    if service == prices.CLOUDWATCH:
        return dict(call("logs", "ListTagsLogGroup", {"logGroupName": resource}).get("tags", {}))
    return {}


def _time_period(period: dict) -> tuple[date, date]:
    try:
        start = date.fromisoformat(period["Start"])
        end = date.fromisoformat(period["End"])
    except (KeyError, ValueError):
        raise ValidationException(
            "TimePeriod needs Start and End as YYYY-MM-DD dates (End is exclusive)."
        ) from None
    if start >= end:
        raise ValidationException("Start date must be before End date.")
    return start, end


def _filter(expression: dict | None):
    if not expression:
        return lambda row: True
    dimension = expression.get("Dimensions") or {}
    if set(expression) != {"Dimensions"} or dimension.get("Key") not in GROUP_KEYS:
        raise ValidationException(
            "This Filter is not emulated: labkit's Cost Explorer filters on one Dimensions "
            "expression with the key SERVICE or USAGE_TYPE."
        )
    field, values = GROUP_KEYS[dimension["Key"]], set(dimension.get("Values") or [])
    return lambda row: row[field] in values


def _periods(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    periods, cursor = [], start
    while cursor < end:
        if granularity == "DAILY":
            following = cursor + timedelta(days=1)
        else:
            following = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        periods.append((cursor, min(following, end)))
        cursor = following
    return periods


def _amounts(rows: list[dict], metrics: list[str]) -> dict:
    cost = sum(r["cost_after_free_tier"] or 0.0 for r in rows)
    quantity = sum(r["quantity"] for r in rows)
    units = {
        prices.PRICE_BY_USAGE_TYPE[r["usage_type"]].unit
        for r in rows
        if r["usage_type"] in prices.PRICE_BY_USAGE_TYPE
    }
    out = {}
    for metric in metrics:
        if metric in ("UsageQuantity", "NormalizedUsageAmount"):
            out[metric] = {
                "Amount": _number(quantity),
                "Unit": units.pop() if len(units) == 1 else "N/A",
            }
        else:
            out[metric] = {"Amount": _number(cost), "Unit": prices.CURRENCY}
    return out


def _result(
    period: tuple[date, date], rows: list[dict], metrics: list[str], keys: list[str]
) -> dict:
    inside = [r for r in rows if period[0] <= r["day"] < period[1]]
    result = {
        "TimePeriod": {"Start": period[0].isoformat(), "End": period[1].isoformat()},
        "Total": {},
        "Groups": [],
        "Estimated": period[1] > _today(),
    }
    if not keys:
        result["Total"] = _amounts(inside, metrics)
        return result
    grouped: dict[tuple, list] = defaultdict(list)
    for row in inside:
        grouped[tuple(row[k] for k in keys)].append(row)
    result["Groups"] = [
        {"Keys": list(k), "Metrics": _amounts(v, metrics)} for k, v in sorted(grouped.items())
    ]
    return result


def _number(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _moto_read(service: str, operation: str, params: dict, ctx: RequestContext) -> dict:
    """The few S3 and Logs reads metering and tag grouping need, straight from moto's state
    (one page each)."""
    if service == "s3":
        from moto.s3.models import s3_backends

        backend = s3_backends[ctx.account_id]["aws"]
        if operation == "ListBuckets":
            return {"Buckets": [{"Name": name} for name in list(backend.buckets)]}
        bucket = backend.buckets.get(params["Bucket"])
        if operation == "GetBucketTagging":
            tags = backend.get_bucket_tagging(bucket.name)["Tags"] if bucket else []
            return {"TagSet": tags}
        objects = _snapshot(bucket.keys.values) if bucket else []
        return {
            "Contents": [
                {"Key": o.name, "Size": o.size, "LastModified": o.last_modified}
                for o in objects
                if hasattr(o, "size")
            ]
        }
    from moto.logs.models import logs_backends

    backend = logs_backends[ctx.account_id][ctx.region]
    if operation == "DescribeLogGroups":
        return {"logGroups": [{"logGroupName": name} for name in list(backend.groups)]}
    group = backend.groups.get(params["logGroupName"])
    if operation == "ListTagsLogGroup":
        return {"tags": dict(backend.list_tags_log_group(group.name)) if group else {}}
    streams = _snapshot(group.streams.values) if group else []
    return {
        "logStreams": [
            {
                "storedBytes": s.stored_bytes,
                "firstEventTimestamp": s.first_event_timestamp,
                "creationTime": _epoch_ms(s.creation_time),
            }
            for s in streams
        ]
    }


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _snapshot(values) -> list:
    """A list of a dict's values while other threads may add to it (builds write as we read)."""
    for _ in range(5):
        try:
            return list(values())
        except RuntimeError:  # the dict changed size while being copied: copy again
            continue
    return list(values())
