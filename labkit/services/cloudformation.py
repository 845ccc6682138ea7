"""CloudFormation helpers: wait for a stack or a change set with progress, and show parameters,
changes, events and outputs as tables."""

from __future__ import annotations

import pandas as pd

from labkit.progress import Progress, poll

CHANGE_SET_FINAL = ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED")


def parameters(**values: str) -> list[dict]:
    """`parameters(PipelineName="x")` → the Parameters list CreateStack and CreateChangeSet take."""
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def _interval(lab) -> float:
    return 5.0 if lab.backend == "aws" else 0.5  # describe calls are throttled on AWS


def _stack_or_none(client, stack: str) -> dict | None:
    try:
        return client.describe_stacks(StackName=stack)["Stacks"][0]
    except client.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def stack_exists(lab, stack: str) -> bool:
    found = _stack_or_none(lab.client("cloudformation"), stack)
    return found is not None and found["StackStatus"] != "DELETE_COMPLETE"


def wait_for_stack(lab, stack: str, timeout: float = 1800) -> dict:
    """Wait until the stack (name, or id once it is deleted) is no longer *_IN_PROGRESS; the bar
    counts its resources that reached a final state. Returns DescribeStacks' record."""
    client = lab.client("cloudformation")
    first = client.describe_stacks(StackName=stack)["Stacks"][0]
    name = first["StackName"]
    stack_id = first["StackId"]  # a deleted stack is found by its id only
    total = max(len(client.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]), 1)
    with Progress(total, f"Stack {name}", unit="resource") as bar:
        def finished():
            record = client.describe_stacks(StackName=stack_id)["Stacks"][0]
            status = record["StackStatus"]
            resources = client.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
            bar.update(sum(not r["ResourceStatus"].endswith("IN_PROGRESS") for r in resources),
                       status)
            if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
                return None
            return record

        record = poll(finished, timeout, interval=_interval(lab), what=f"stack {name}",
                      last_state=lambda: client.describe_stacks(StackName=stack_id)["Stacks"][0][
                          "StackStatus"])
        bar.done(record["StackStatus"])
    return record


def wait_for_change_set(lab, stack: str, change_set: str, timeout: float = 600) -> dict:
    """Wait until CloudFormation has computed the change set; return DescribeChangeSet's answer."""
    client = lab.client("cloudformation")
    with Progress(1, f"Change set {change_set}") as bar:
        def ready():
            found = client.describe_change_set(StackName=stack, ChangeSetName=change_set)
            return found if found["Status"] in CHANGE_SET_FINAL else None

        found = poll(ready, timeout, interval=_interval(lab), what=f"change set {change_set}")
        bar.done(found["Status"])
    return found


def _why(change: dict) -> str:
    reasons = []
    for detail in change.get("Details", []):
        target = detail.get("Target", {}).get("Name") or detail.get("Target", {}).get("Attribute")
        cause = detail.get("CausingEntity")
        source = {"ParameterReference": "parameter", "ResourceReference": "new name of",
                  "ResourceAttribute": "new attribute of"}.get(detail.get("ChangeSource"), "")
        reason = f"{target} ({source} {cause})" if cause else str(target)
        if reason not in reasons:
            reasons.append(reason)
    return ", ".join(reasons)


def change_set_table(lab, stack: str, change_set: str) -> pd.DataFrame:
    """One row per resource the change set would touch: Action, LogicalResourceId, ResourceType,
    Replacement (True / False / Conditional) and what causes the change."""
    client = lab.client("cloudformation")
    changes, token = [], None
    while True:
        page = client.describe_change_set(StackName=stack, ChangeSetName=change_set,
                                          **({"NextToken": token} if token else {}))
        changes += [c["ResourceChange"] for c in page.get("Changes", []) if "ResourceChange" in c]
        token = page.get("NextToken")
        if not token:
            break
    rows = [{"Action": c["Action"], "LogicalResourceId": c["LogicalResourceId"],
             "ResourceType": c["ResourceType"], "Replacement": c.get("Replacement", ""),
             "caused by": _why(c)} for c in changes]
    return pd.DataFrame(rows, columns=["Action", "LogicalResourceId", "ResourceType", "Replacement",
                                       "caused by"])


def replaced_resources(lab, stack: str, change_set: str) -> set[str]:
    """The logical ids the change set would replace for sure (Replacement True)."""
    table = change_set_table(lab, stack, change_set)
    return set(table.loc[table["Replacement"] == "True", "LogicalResourceId"])


def events_table(lab, stack: str, latest_operation: bool = True) -> pd.DataFrame:
    """The stack's events oldest first; by default only those of its latest operation (from the
    last create, update or delete it started)."""
    client = lab.client("cloudformation")
    events, token = [], None
    while True:
        page = client.describe_stack_events(StackName=stack, **({"NextToken": token} if token else {}))
        events += page["StackEvents"]
        token = page.get("NextToken")
        if not token:
            break
    events.reverse()
    if latest_operation:
        starts = [i for i, e in enumerate(events) if e["LogicalResourceId"] == e["StackName"]
                  and e["ResourceStatus"] in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS",
                                              "DELETE_IN_PROGRESS")]
        if starts:
            events = events[starts[-1]:]
    rows = [{"resource": e["LogicalResourceId"], "type": e["ResourceType"],
             "status": e["ResourceStatus"], "reason": e.get("ResourceStatusReason") or ""}
            for e in events]
    return pd.DataFrame(rows, columns=["resource", "type", "status", "reason"])


def resources_table(lab, stack: str) -> pd.DataFrame:
    """The stack's resources: logical id, type and status (physical ids carry random suffixes)."""
    client = lab.client("cloudformation")
    rows = [{"LogicalResourceId": r["LogicalResourceId"], "ResourceType": r["ResourceType"],
             "ResourceStatus": r["ResourceStatus"]}
            for r in client.list_stack_resources(StackName=stack)["StackResourceSummaries"]]
    return pd.DataFrame(rows, columns=["LogicalResourceId", "ResourceType", "ResourceStatus"])


def outputs(lab, stack: str) -> dict[str, str]:
    record = lab.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in record.get("Outputs", [])}


def template_parameters_table(lab, template_body: str, values: dict[str, str]) -> pd.DataFrame:
    """GetTemplateSummary's parameters: default, the value given here (if any), description."""
    summary = lab.client("cloudformation").get_template_summary(TemplateBody=template_body)
    rows = [{"parameter": p["ParameterKey"], "default": p.get("DefaultValue", ""),
             "value": values.get(p["ParameterKey"], ""), "description": p.get("Description", "")}
            for p in summary["Parameters"]]
    return pd.DataFrame(rows, columns=["parameter", "default", "value", "description"])


def empty_bucket(lab, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket must be empty before
    its stack can delete it); return how many were deleted."""
    s3 = lab.client("s3")
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:  # a page holds at most 1,000 keys: what DeleteObjects takes at once
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            deleted += len(doomed)
    return deleted


def delete_stack(lab, stack: str, timeout: float = 1800) -> str:
    """Empty the stack's artifact bucket (output ArtifactBucketName), delete the stack, wait;
    return the final status. Quiet when the stack is not there."""
    client = lab.client("cloudformation")
    record = _stack_or_none(client, stack)
    if record is None or record["StackStatus"] == "DELETE_COMPLETE":
        return "DELETE_COMPLETE"
    for output in record.get("Outputs", []):
        if output["OutputKey"] == "ArtifactBucketName":
            try:
                empty_bucket(lab, output["OutputValue"])
            except lab.client("s3").exceptions.NoSuchBucket:
                pass
    client.delete_stack(StackName=record["StackId"])
    interval = _interval(lab)
    final = poll(lambda: (lambda s: s if not s.endswith("_IN_PROGRESS") else None)(
        client.describe_stacks(StackName=record["StackId"])["Stacks"][0]["StackStatus"]),
        timeout, interval=interval, what=f"deleting stack {stack}")
    return final


def remove_stacks(lab, stacks: list[str]) -> None:
    """Delete these stacks, in this order, if they exist (e.g. left by an interrupted run)."""
    for stack in stacks:
        delete_stack(lab, stack)


def wait_for_drift_detection(lab, detection_id: str, timeout: float = 900) -> dict:
    """Wait for DetectStackDrift to finish (AWS only: the emulator does not detect drift); return
    DescribeStackDriftDetectionStatus's answer (StackDriftStatus: DRIFTED, IN_SYNC, ...)."""
    client = lab.client("cloudformation")
    with Progress(1, "Drift detection") as bar:
        def done():
            found = client.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
            return found if found["DetectionStatus"] != "DETECTION_IN_PROGRESS" else None

        found = poll(done, timeout, interval=_interval(lab), what="drift detection")
        bar.done(f"{found['DetectionStatus']}, stack {found.get('StackDriftStatus', 'UNKNOWN')}")
    return found


def drifts_table(lab, stack: str) -> pd.DataFrame:
    """Resources that drifted (MODIFIED or DELETED) and how: property, expected, actual."""
    client = lab.client("cloudformation")
    found = client.describe_stack_resource_drifts(
        StackName=stack, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])["StackResourceDrifts"]
    rows = []
    for drift in found:
        for difference in drift.get("PropertyDifferences") or [{}]:
            rows.append({"resource": drift["LogicalResourceId"],
                         "drift": drift["StackResourceDriftStatus"],
                         "property": difference.get("PropertyPath", ""),
                         "expected": difference.get("ExpectedValue", ""),
                         "actual": difference.get("ActualValue", "")})
    return pd.DataFrame(rows, columns=["resource", "drift", "property", "expected", "actual"])
