"""Service quotas of the course's services: the account's current values from Service Quotas, or,
where Service Quotas has nothing to say (the local emulator), AWS's documented defaults, labelled."""

from __future__ import annotations

import pandas as pd
from botocore.exceptions import ClientError

DOCS_READ = "2026-11-26"
SERVICE_CODES = ("codebuild", "codepipeline")
# Words that pick the quotas a CI/CD course runs into out of each service's long list.
KEYWORDS = ("build projects", "concurrently running builds", "pipelines")

# Defaults as the AWS documentation states them (pages read on DOCS_READ). None: the documented
# default varies (by compute type, and by account: new accounts can start very low).
DOCUMENTED = (
    ("codebuild", "Build projects", 5000, True,
     "https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html"),
    ("codebuild", "Concurrently running builds (per compute type)", None, True,
     "https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html"),
    ("codepipeline", "Pipelines per Region", 1000, True,
     "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"),
    ("codepipeline", "Pipelines polling for source changes per Region", 300, False,
     "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"),
)
COLUMNS = ["service", "quota", "value", "adjustable", "source"]


def _all(client, operation: str, service_code: str) -> list[dict]:
    paginator = client.get_paginator(operation)
    return [q for page in paginator.paginate(ServiceCode=service_code) for q in page["Quotas"]]


def read_quotas(lab, service_code: str) -> tuple[list[dict], str]:
    """(quotas, where they came from): the account's applied values (ListServiceQuotas), else
    AWS's defaults for the account (ListAWSDefaultServiceQuotas), else ([], the reason)."""
    client = lab.client("service-quotas")
    reasons = []
    for operation, label in (("list_service_quotas", "applied (Service Quotas)"),
                             ("list_aws_default_service_quotas", "AWS default (Service Quotas)")):
        try:
            found = _all(client, operation, service_code)
        except ClientError as exc:
            reasons.append(f"{operation}: {exc.response['Error']['Code']}")
            continue
        if found:
            return found, label
        reasons.append(f"{operation}: no quotas")
    return [], "; ".join(reasons)


def quota_table(lab, service_codes: tuple[str, ...] = SERVICE_CODES) -> pd.DataFrame:
    """The quotas a pipeline runs into, one row each: value, adjustable, and where the value
    comes from. Documented defaults fill in for a service that Service Quotas cannot answer."""
    rows = []
    for code in service_codes:
        quotas, source = read_quotas(lab, code)
        picked = [q for q in quotas if any(k in q["QuotaName"].lower() for k in KEYWORDS)]
        if picked:
            rows += [{"service": code, "quota": q["QuotaName"], "value": q.get("Value"),
                      "adjustable": q.get("Adjustable"), "source": source} for q in picked]
            continue
        rows += [{"service": service, "quota": name, "value": value, "adjustable": adjustable,
                  "source": f"documented default (AWS docs, read {DOCS_READ})"}
                 for service, name, value, adjustable, _ in DOCUMENTED if service == code]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["value"] = frame["value"].map(lambda v: "varies" if v is None or v != v else f"{v:,.0f}")
    return frame
