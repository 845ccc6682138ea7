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
