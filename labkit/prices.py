"""The one price table of the course (us-east-1, on-demand) and the arithmetic that applies it;
shared by labkit.observe.costs and the emulator's Cost Explorer, so both price usage alike."""

from __future__ import annotations

import math
from dataclasses import dataclass

DATE_READ = "2026-11-26"
CURRENCY = "USD"

# Cost Explorer's SERVICE dimension values for the services the course pays for.
CODEBUILD = "CodeBuild"
CODEPIPELINE = "AWS CodePipeline"
CODEDEPLOY = "AWS CodeDeploy"
S3 = "Amazon Simple Storage Service"
CLOUDWATCH = "AmazonCloudWatch"
EC2 = "Amazon Elastic Compute Cloud - Compute"  # chapter 08: the Jenkins comparison
EC2_OTHER = "EC2 - Other"  # EBS volumes are billed under this Cost Explorer service


@dataclass(frozen=True)
class Price:
    """One priced unit. Usage in the same `free_pool` shares one monthly free allowance."""

    service: str
    usage_type: str
    unit: str
    price: float  # USD per unit
    free_tier: float  # units free per month (shared by the pool)
    free_pool: str | None
    source: str


_CODEBUILD_URL = "https://aws.amazon.com/codebuild/pricing/"
_CODEPIPELINE_URL = "https://aws.amazon.com/codepipeline/pricing/"
_CODEDEPLOY_URL = "https://aws.amazon.com/codedeploy/pricing/"
_S3_URL = "https://aws.amazon.com/s3/pricing/"
_CLOUDWATCH_URL = "https://aws.amazon.com/cloudwatch/pricing/"
_EC2_URL = "https://aws.amazon.com/ec2/pricing/on-demand/"
_EBS_URL = "https://aws.amazon.com/ebs/pricing/"

PRICES: tuple[Price, ...] = (
    # Billed per build minute, rounded up per build; 100 free minutes a month on either small type.
    Price(
        CODEBUILD,
        "Build-Min:general1.small",
        "minute",
        0.005,
        100,
        "codebuild-small",
        _CODEBUILD_URL,
    ),
    Price(
        CODEBUILD, "Build-Min:arm1.small", "minute", 0.0034, 100, "codebuild-small", _CODEBUILD_URL
    ),
    Price(CODEBUILD, "Build-Min:general1.medium", "minute", 0.01, 0, None, _CODEBUILD_URL),
    Price(CODEBUILD, "Build-Min:general1.large", "minute", 0.02, 0, None, _CODEBUILD_URL),
    # V1: per active pipeline and month, one free per account. V2: per action-execution minute
    # (manual approvals are not charged), 100 free minutes a month.
    Price(
        CODEPIPELINE,
        "activePipeline",
        "pipeline-month",
        1.00,
        1,
        "codepipeline-v1",
        _CODEPIPELINE_URL,
    ),
    Price(
        CODEPIPELINE,
        "ActionExecutionMinute",
        "minute",
        0.002,
        100,
        "codepipeline-v2",
        _CODEPIPELINE_URL,
    ),
    # Deployments to EC2, Lambda and ECS are free; on-premises instances are charged per update.
    Price(CODEDEPLOY, "OnPremInstanceUpdate", "instance update", 0.02, 0, None, _CODEDEPLOY_URL),
    Price(CODEDEPLOY, "EC2InstanceUpdate", "instance update", 0.0, 0, None, _CODEDEPLOY_URL),
    # S3 Standard, first 50 TB; the free tier is the 12-month one of older accounts.
    Price(S3, "TimedStorage-ByteHrs", "GB-month", 0.023, 5, "s3-storage", _S3_URL),
    Price(S3, "Requests-Tier1", "1,000 PUT/COPY/POST/LIST", 0.005, 2, "s3-put", _S3_URL),
    Price(S3, "Requests-Tier2", "1,000 GET", 0.0004, 20, "s3-get", _S3_URL),
    # CloudWatch Logs standard ingestion; 5 GB a month free (shared with storage and scans).
    Price(CLOUDWATCH, "DataProcessing-Bytes", "GB ingested", 0.50, 5, "logs-data", _CLOUDWATCH_URL),
    # chapter 08: EC2 for the course's hosts and for a self-managed Jenkins server (Linux,
    # on-demand). No free tier here: what an account gets depends on its age and plan.
    Price(EC2, "BoxUsage:t3.micro", "instance-hour", 0.0104, 0, None, _EC2_URL),  # the course's hosts
    Price(EC2, "BoxUsage:t3.medium", "instance-hour", 0.0416, 0, None, _EC2_URL),
    Price(EC2, "BoxUsage:t3.large", "instance-hour", 0.0832, 0, None, _EC2_URL),
    Price(EC2_OTHER, "EBS:VolumeUsage.gp3", "GB-month", 0.08, 0, None, _EBS_URL),
)

PRICE_BY_USAGE_TYPE = {p.usage_type: p for p in PRICES}

# CodeBuild's API names (environment type, compute type) for the priced instance types.
COMPUTE_TYPES = {
    ("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL"): "general1.small",
    ("LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM"): "general1.medium",
    ("LINUX_CONTAINER", "BUILD_GENERAL1_LARGE"): "general1.large",
    ("ARM_CONTAINER", "BUILD_GENERAL1_SMALL"): "arm1.small",
}


def compute_type_name(environment_type: str, compute_type: str) -> str:
    """The pricing name (general1.small, arm1.small, ...) of a project's environment."""
    return COMPUTE_TYPES.get(
        (environment_type, compute_type), f"{environment_type}/{compute_type}".lower()
    )


def build_usage_type(compute_name: str) -> str:
    return f"Build-Min:{compute_name}"


def price_of(usage_type: str) -> Price:
    """The table's row for a usage type; a clear error for one the table does not price."""
    try:
        return PRICE_BY_USAGE_TYPE[usage_type]
    except KeyError:
        known = ", ".join(sorted(PRICE_BY_USAGE_TYPE))
        raise KeyError(
            f"no price for usage type {usage_type!r}; the table prices: {known}"
        ) from None


def billed_minutes(seconds: float) -> int:
    """Per-minute billing, rounded up: 61 s is 2 minutes, 0 s still starts a minute."""
    return max(1, math.ceil(round(seconds, 3) / 60))


class FreeTier:
    """Monthly free allowances, consumed in the order usage arrives (reset per month)."""

    def __init__(self):
        self._used: dict[tuple[str, str], float] = {}

    def charge(self, usage_type: str, quantity: float, month: str = "") -> tuple[float, float]:
        """(cost without free tier, cost with it) of `quantity` units in `month` ("YYYY-MM")."""
        price = price_of(usage_type)
        list_cost = quantity * price.price
        if not price.free_pool or price.free_tier <= 0:
            return list_cost, list_cost
        key = (price.free_pool, month)
        used = self._used.get(key, 0.0)
        free = max(0.0, min(quantity, price.free_tier - used))
        self._used[key] = used + free
        return list_cost, (quantity - free) * price.price
