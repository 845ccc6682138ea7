"""The course's cost model: the price table, usage measured from the lab itself, an estimate with
and without the free tier, and a monthly projection for a team."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
from botocore import xform_name
from botocore.exceptions import ClientError

from labkit import metering, prices

ESTIMATE_COLUMNS = [
    "service",
    "usage_type",
    "quantity",
    "unit",
    "price",
    "free_tier",
    "cost_without_free_tier",
    "cost_with_free_tier",
]


def price_table() -> pd.DataFrame:
    """Every price the model uses, with its unit, monthly free tier, source and date read."""
    frame = pd.DataFrame(
        [
            {
                "service": p.service,
                "usage_type": p.usage_type,
                "unit": p.unit,
                "price_usd": p.price,
                "free_tier_per_month": p.free_tier,
                "source": p.source,
            }
            for p in prices.PRICES
        ]
    )
    frame["date_read"] = prices.DATE_READ
    return frame


def _boto_call(lab) -> metering.Call:
    def call(service: str, operation: str, params: dict) -> dict:
        try:
            return getattr(lab.client(service), xform_name(operation))(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in metering.VANISHED:
                return {}
            raise

    return call


def measure_usage(lab, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Billable usage of the lab's account from its APIs (both backends): one row per day,
    usage type and resource. Default window: this calendar month so far."""
    now = datetime.now(timezone.utc)
    start = start or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = end or now + timedelta(minutes=1)
    records = metering.measure(_boto_call(lab), start, end)
    return pd.DataFrame(
        [r.as_dict() for r in records],
        columns=["day", "service", "usage_type", "quantity", "resource"],
    )


def estimate(usage: pd.DataFrame | dict[str, float]) -> pd.DataFrame:
    """Cost per service and usage type, without and with the monthly free tier. `usage` is
    measure_usage()'s frame (one month) or {usage_type: quantity}. The row "Total" adds up."""
    if isinstance(usage, dict):
        usage = pd.DataFrame(
            [{"usage_type": k, "quantity": v} for k, v in usage.items()],
            columns=["usage_type", "quantity"],
        )
    totals = usage.groupby("usage_type", sort=False)["quantity"].sum()
    free = prices.FreeTier()
    rows = []
    # A shared allowance (100 minutes for general1.small and arm1.small) goes to the cheaper
    # type first, which gives the higher of the possible costs: AWS does not say in which order
    # it applies it, and an estimate should not promise less than the bill.
    for usage_type in sorted(totals.index, key=lambda u: _price_or_nan(u)):
        quantity = float(totals[usage_type])
        try:
            price = prices.price_of(usage_type)
        except KeyError:
            rows.append(
                {
                    "service": "unpriced",
                    "usage_type": usage_type,
                    "quantity": quantity,
                    "unit": "",
                    "price": math.nan,
                    "free_tier": 0.0,
                    "cost_without_free_tier": math.nan,
                    "cost_with_free_tier": math.nan,
                }
            )
            continue
        without, with_free = free.charge(usage_type, quantity)
        rows.append(
            {
                "service": price.service,
                "usage_type": usage_type,
                "quantity": quantity,
                "unit": price.unit,
                "price": price.price,
                "free_tier": price.free_tier,
                "cost_without_free_tier": without,
                "cost_with_free_tier": with_free,
            }
        )
    frame = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS).sort_values(
        ["service", "usage_type"], ignore_index=True
    )
    total = {
        "service": "Total",
        "usage_type": "",
        "quantity": math.nan,
        "unit": "",
        "price": math.nan,
        "free_tier": math.nan,
        "cost_without_free_tier": frame["cost_without_free_tier"].sum(),
        "cost_with_free_tier": frame["cost_with_free_tier"].sum(),
    }
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def _price_or_nan(usage_type: str) -> float:
    try:
        return prices.price_of(usage_type).price
    except KeyError:
        return math.inf


def monthly_projection(
    team_size: int = 5,
    builds_per_month: int = 100,
    minutes_per_build: float = 5,
    compute_type: str = "general1.small",
    pipelines: int = 1,
    pipeline_type: str = "V1",
    deployments: int = 50,
    instances_per_deployment: int = 1,
    on_premises: bool = False,
    pipeline_minutes_per_run: float | None = None,
    artifact_mb_per_build: float = 5,
    log_mb_per_build: float = 0.5,
    retention_months: int = 1,
) -> pd.DataFrame:
    """A month for a team: each build runs through a pipeline and half of the runs deploy (by
    default 100 builds, 50 deployments). Returns estimate()'s frame; `attrs` hold the inputs.

    V2 action minutes per run default to the build's minutes + 1 (source) + 2 (deploy), each
    rounded up; team_size only labels the projection, since builds are what cost money."""
    if pipeline_type not in ("V1", "V2"):
        raise ValueError("pipeline_type is V1 or V2")
    minutes = prices.billed_minutes(minutes_per_build * 60)
    usage = {prices.build_usage_type(compute_type): builds_per_month * minutes}
    prices.price_of(prices.build_usage_type(compute_type))  # a clear error for an unknown type
    if pipeline_type == "V1":
        usage["activePipeline"] = pipelines
    else:
        per_run = pipeline_minutes_per_run or (minutes + 1 + 2)
        usage["ActionExecutionMinute"] = builds_per_month * math.ceil(per_run)
    updates = deployments * instances_per_deployment
    usage["OnPremInstanceUpdate" if on_premises else "EC2InstanceUpdate"] = updates
    stored_gb = builds_per_month * artifact_mb_per_build * retention_months / 1024
    usage["TimedStorage-ByteHrs"] = stored_gb
    usage["Requests-Tier1"] = builds_per_month * 3 / 1000  # source, build output, deploy bundle
    usage["Requests-Tier2"] = (builds_per_month * 2 + deployments) / 1000
    usage["DataProcessing-Bytes"] = builds_per_month * log_mb_per_build / 1024
    frame = estimate(usage)
    frame.attrs.update(
        {
            "team_size": team_size,
            "builds_per_month": builds_per_month,
            "minutes_per_build": minutes_per_build,
            "compute_type": compute_type,
            "pipelines": pipelines,
            "pipeline_type": pipeline_type,
            "deployments": deployments,
            "prices_read": prices.DATE_READ,
        }
    )
    return frame


ARTICLE_RANGE = (5.0, 15.0)  # the source article's "$5-15/month" for this team


def compare_with_article(frame: pd.DataFrame) -> str:
    """Say how a monthly_projection() compares with the article's "$5-15/month", and why."""
    total = float(frame.iloc[-1]["cost_with_free_tier"])
    low, high = ARTICLE_RANGE
    if low <= total <= high:
        verdict = "inside"
    else:
        verdict = "below" if total < low else "above"
    reasons = [
        "deployments to EC2 instances cost nothing in CodeDeploy (only on-premises updates are "
        "charged, $0.02 each), though the instances themselves are billed by EC2",
        "the first V1 pipeline of an account is free and V2 pipelines bill action minutes only",
        "CodeBuild gives 100 free minutes a month on general1.small and arm1.small",
    ]
    return (
        f"Projected ${total:.2f}/month with the free tier (${frame.iloc[-1]['cost_without_free_tier']:.2f} "
        f"without), {verdict} the article's ${low:.0f}-{high:.0f}/month. The pipeline itself "
        f"is cheap because " + "; ".join(reasons) + f". Prices read {prices.DATE_READ}."
    )


# chapter 08: one run's action minutes, V1 vs V2, the levers that lower the bill, and Jenkins
HOURS_PER_MONTH = 730  # AWS's pricing calculator counts a month as 730 hours


def action_minutes(lab, pipeline: str, execution_id: str) -> pd.DataFrame:
    """Each action of one execution: how long it ran and the minutes V2 bills for it (each action
    rounded up to a whole minute; manual approvals are not billed)."""
    client = lab.client("codepipeline")
    details = client.list_action_executions(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    rows = []
    for action in sorted(details, key=lambda a: a["startTime"]):
        seconds = (action["lastUpdateTime"] - action["startTime"]).total_seconds()
        type_id = action.get("input", {}).get("actionTypeId", {})
        billed = 0 if type_id.get("category") == "Approval" else prices.billed_minutes(seconds)
        rows.append(
            {
                "stage": action["stageName"],
                "action": action["actionName"],
                "provider": type_id.get("provider", ""),
                "status": action["status"],
                "duration": f"{seconds:.1f} s",
                "billed_minutes": billed,
            }
        )
    return pd.DataFrame(
        rows, columns=["stage", "action", "provider", "status", "duration", "billed_minutes"]
    )


def v2_monthly_cost(action_minutes_per_run: float, runs_per_month: int) -> float:
    """A V2 pipeline's month: action minutes beyond the 100 free ones, at $0.002 each."""
    price = prices.price_of("ActionExecutionMinute")
    minutes = action_minutes_per_run * runs_per_month
    return max(0.0, minutes - price.free_tier) * price.price


def v1_v2_break_even(action_minutes_per_run: float) -> float:
    """Runs a month at which a V2 pipeline costs as much as one charged V1 pipeline ($1/month)."""
    v1 = prices.price_of("activePipeline").price
    v2 = prices.price_of("ActionExecutionMinute")
    return (v1 / v2.price + v2.free_tier) / action_minutes_per_run


def v1_vs_v2(
    action_minutes_per_run: float, runs_per_month: tuple[int, ...] = (50, 100, 200, 500, 1000)
) -> pd.DataFrame:
    """Monthly cost of one pipeline by runs a month: V2 by action minutes, V1 a flat fee (the
    account's first V1 pipeline and any V1 pipeline's first 30 days are free)."""
    v1 = prices.price_of("activePipeline").price
    rows = [
        {
            "runs_per_month": runs,
            "action_minutes": action_minutes_per_run * runs,
            "V2_usd": round(v2_monthly_cost(action_minutes_per_run, runs), 4),
            "V1_usd": v1,
            "V1_first_pipeline_usd": 0.0,
            "cheaper": _cheaper(v2_monthly_cost(action_minutes_per_run, runs), v1),
        }
        for runs in runs_per_month
    ]
    return pd.DataFrame(rows)


def _cheaper(v2: float, v1: float) -> str:
    if math.isclose(v2, v1, abs_tol=1e-9):
        return "same"
    return "V2" if v2 < v1 else "V1"


def self_managed_jenkins(
    controller: str = "t3.medium",
    agents: int = 1,
    agent_type: str = "t3.large",
    disk_gb_each: int = 30,
    hours: float = HOURS_PER_MONTH,
) -> pd.DataFrame:
    """The AWS bill of a Jenkins controller and its build agents running all month on EC2 with
    gp3 disks. People's time (patching, plugins, backups) is not in it: price it yourself."""
    disk = prices.price_of("EBS:VolumeUsage.gp3")
    rows = []
    for role, instance_type, count in (("controller", controller, 1), ("agent", agent_type, agents)):
        if not count:
            continue
        box = prices.price_of(f"BoxUsage:{instance_type}")
        rows.append(
            {
                "item": f"{role}: {count} x {instance_type}",
                "quantity": count * hours,
                "unit": box.unit,
                "price": box.price,
                "usd_per_month": count * hours * box.price,
            }
        )
    servers = 1 + agents
    rows.append(
        {
            "item": f"disks: {servers} x {disk_gb_each} GB gp3",
            "quantity": servers * disk_gb_each,
            "unit": disk.unit,
            "price": disk.price,
            "usd_per_month": servers * disk_gb_each * disk.price,
        }
    )
    frame = pd.DataFrame(rows, columns=["item", "quantity", "unit", "price", "usd_per_month"])
    total = {"item": "Total (machines only)", "quantity": math.nan, "unit": "", "price": math.nan,
             "usd_per_month": frame["usd_per_month"].sum()}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def cost_levers(
    builds_per_month: int = 100, minutes_per_build: float = 5, deployments: int = 50
) -> pd.DataFrame:
    """What each lever does to a month's bill (with the free tier), from the same projection;
    every lever states the assumption it rests on."""

    def month(**changes) -> float:
        settings = {
            "builds_per_month": builds_per_month,
            "minutes_per_build": minutes_per_build,
            "compute_type": "general1.small",
            "pipeline_type": "V2",
            "deployments": deployments,
        }
        settings.update(changes)
        return float(monthly_projection(**settings).iloc[-1]["cost_with_free_tier"])

    half = max(0.5, minutes_per_build / 2)
    docs_only = round(builds_per_month * 0.8)
    levers = [
        ("baseline", "general1.small, V2 pipeline", month()),
        ("dependency cache", "saves 1 minute of every build",
         month(minutes_per_build=max(0.5, minutes_per_build - 1))),
        ("ARM (arm1.small)", "the build runs on ARM as is (Node.js does)",
         month(compute_type="arm1.small")),
        ("bigger type (general1.medium)", "builds take half as long",
         month(compute_type="general1.medium", minutes_per_build=half)),
        ("V1 pipeline", "it is the account's only V1 pipeline (free)", month(pipeline_type="V1")),
        ("skip docs-only commits", "1 push in 5 changes only docs",
         month(builds_per_month=docs_only, deployments=round(deployments * 0.8))),
    ]
    base = levers[0][2]
    return pd.DataFrame(
        [
            {"lever": name, "assumption": assumption, "usd_per_month": round(cost, 4),
             "change_usd": round(cost - base, 4)}
            for name, assumption, cost in levers
        ]
    )
