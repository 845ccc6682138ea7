"""Cost Explorer's GetCostAndUsage as a DataFrame, and its chart. Locally the emulator prices the
usage it measured; on AWS it is the account's bill, which lags about a day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from labkit import prices
from labkit.observe import charts  # noqa: F401  (figures display in notebooks)

AWS_LAG_NOTE = (
    "Cost Explorer data on AWS lags about 24 hours: today's builds appear tomorrow, "
    "and the current month's figures are estimates. Each GetCostAndUsage request costs $0.01."
)


def cost_and_usage(
    lab,
    start: date | None = None,
    end: date | None = None,
    granularity: str = "DAILY",
    group_by: str | None = "SERVICE",
    metric: str = "UnblendedCost",
) -> pd.DataFrame:
    """One row per period and group: start, end, group, amount, unit, estimated.
    Defaults: the last 7 days up to tomorrow (End is exclusive)."""
    end = end or date.today() + timedelta(days=1)
    start = start or end - timedelta(days=7)
    params = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": granularity,
        "Metrics": [metric],
    }
    if group_by:
        params["GroupBy"] = [{"Type": "DIMENSION", "Key": group_by}]
    ce = lab.client("ce")
    rows = []
    while True:
        page = ce.get_cost_and_usage(**params)
        for result in page.get("ResultsByTime", []):
            period = result["TimePeriod"]
            common = {
                "start": period["Start"],
                "end": period["End"],
                "estimated": result.get("Estimated", False),
            }
            groups = result.get("Groups") or []
            if not group_by:
                total = result.get("Total", {}).get(metric, {"Amount": "0", "Unit": "USD"})
                groups = [{"Keys": ["Total"], "Metrics": {metric: total}}]
            for group in groups:
                amount = group["Metrics"][metric]
                rows.append(
                    {
                        **common,
                        "group": " / ".join(group["Keys"]),
                        "amount": float(amount["Amount"]),
                        "unit": amount["Unit"],
                    }
                )
        if not page.get("NextPageToken"):
            break
        params["NextPageToken"] = page["NextPageToken"]
    frame = pd.DataFrame(rows, columns=["start", "end", "group", "amount", "unit", "estimated"])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    frame.attrs["note"] = (
        AWS_LAG_NOTE
        if lab.backend == "aws"
        else ("Local backend: the emulator prices the usage it measured with labkit's price table.")
    )
    return frame


def usage_this_month(lab, today: date | None = None) -> pd.DataFrame:
    """This month's UsageQuantity per usage type beside the monthly free allowance of labkit's
    price table (None where the table has no such usage type)."""
    today = today or date.today()
    frame = cost_and_usage(lab, start=today.replace(day=1), end=today + timedelta(days=1),
                           granularity="MONTHLY", group_by="USAGE_TYPE", metric="UsageQuantity")
    usage = frame.groupby(["group", "unit"], as_index=False)["amount"].sum()
    usage = usage.rename(columns={"group": "usage_type", "amount": "quantity"})

    def allowance(usage_type: str):
        # On AWS usage types carry a region prefix ("USE1-Build-Min:…"): match on the ending.
        return next((p.free_tier for p in prices.PRICES if usage_type.endswith(p.usage_type)), None)

    usage["free_per_month"] = usage["usage_type"].map(allowance)
    return usage[["usage_type", "quantity", "unit", "free_per_month"]]


def cost_chart(frame: pd.DataFrame, save: str | Path | None = None) -> Figure:
    """Cost per period stacked by group (service)."""
    table = frame.pivot_table(
        index="start", columns="group", values="amount", aggfunc="sum", fill_value=0.0
    )
    figure = Figure(figsize=(max(6, 0.7 * len(table) + 3), 4))
    ax = figure.add_subplot()
    labels = [d.strftime("%m-%d") for d in table.index]
    bottom = pd.Series(0.0, index=table.index)
    for group in table.columns:
        ax.bar(labels, table[group], bottom=bottom, label=group)
        bottom += table[group]
    unit = frame["unit"].iloc[0] if not frame.empty else "USD"
    if not len(table.columns):
        title = "No cost in this window"
    elif not frame["amount"].any():
        # Usage was recorded but the free tier covered it: say so rather than draw an empty axis.
        title = "Cost per day by service"
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, f"every amount is 0 {unit}:\nthe usage is within the free tier",
                transform=ax.transAxes, ha="center", va="center", color="dimgray")
    else:
        title = "Cost per day by service"
    ax.set_title(title)
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel(f"cost ({unit})")
    if len(table.columns):
        ax.legend(fontsize="small")
    figure.tight_layout()
    if save:
        figure.savefig(save, dpi=120)
    return figure
