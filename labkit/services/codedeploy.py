"""CodeDeploy helpers: wait for a deployment, and each host's lifecycle events as a table."""

from __future__ import annotations

import pandas as pd

from labkit.progress import Progress, poll

FINAL = ("Succeeded", "Failed", "Stopped")


def wait_for_deployment(lab, deployment_id: str, timeout: float = 1800) -> dict:
    client = lab.client("codedeploy")
    with Progress(100, f"Deployment {deployment_id}", unit="%") as bar:
        def finished():
            info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            overview = info.get("deploymentOverview") or {}
            total = sum(overview.values()) or 1
            bar.update(int(100 * (overview.get("Succeeded", 0) + overview.get("Failed", 0)
                                  + overview.get("Skipped", 0)) / total), info["status"])
            return info if info["status"] in FINAL else None

        info = poll(finished, timeout, what=f"deployment {deployment_id}",
                    last_state=lambda: _describe(client, deployment_id))
        bar.done(info["status"])
    return info


def lifecycle_table(lab, deployment_id: str) -> pd.DataFrame:
    """One row per host and lifecycle event, in the order the events ran."""
    client = lab.client("codedeploy")
    target_ids = []
    kwargs = {"deploymentId": deployment_id}
    while True:
        page = client.list_deployment_targets(**kwargs)
        target_ids += page.get("targetIds", [])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    rows = []
    for start in range(0, len(target_ids), 25):
        targets = client.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=target_ids[start:start + 25])["deploymentTargets"]
        for target in targets:
            instance = target.get("instanceTarget") or {}
            for event in instance.get("lifecycleEvents", []):
                diagnostics = event.get("diagnostics") or {}
                seconds = None
                if event.get("startTime") and event.get("endTime"):
                    seconds = round((event["endTime"] - event["startTime"]).total_seconds(), 1)
                rows.append({"host": instance.get("targetId"), "event": event["lifecycleEventName"],
                             "status": event.get("status"), "seconds": seconds,
                             "error": diagnostics.get("errorCode") or ""})
    return pd.DataFrame(rows, columns=["host", "event", "status", "seconds", "error"])


def ensure_application(lab, name: str) -> str:
    client = lab.client("codedeploy")
    try:
        client.create_application(applicationName=name, computePlatform="Server",
                                  tags=lab.tags.as_list())
        return "created"
    except client.exceptions.ApplicationAlreadyExistsException:
        return "exists"


def ensure_deployment_group(lab, app: str, group: str, role_arn: str, hosts_tag: str,
                            config: str = "CodeDeployDefault.OneAtATime") -> str:
    """An in-place deployment group over the EC2 instances tagged Name=<hosts_tag>, with auto rollback."""
    client = lab.client("codedeploy")
    settings = {
        "applicationName": app, "serviceRoleArn": role_arn, "deploymentConfigName": config,
        "ec2TagFilters": [{"Key": "Name", "Value": hosts_tag, "Type": "KEY_AND_VALUE"}],
        "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    }
    try:
        client.create_deployment_group(deploymentGroupName=group, tags=lab.tags.as_list(), **settings)
        return "created"
    except client.exceptions.DeploymentGroupAlreadyExistsException:
        client.update_deployment_group(currentDeploymentGroupName=group, **settings)
        return "updated"


def s3_revision(bucket: str, key: str, version: str | None = None) -> dict:
    location = {"bucket": bucket, "key": key, "bundleType": "zip"}
    if version:
        location["version"] = version
    return {"revisionType": "S3", "s3Location": location}


def deployment_timeline(lab, deployment_id: str) -> pd.DataFrame:
    """When each host started and finished, in seconds from the deployment's start."""
    table = []
    client = lab.client("codedeploy")
    info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    origin = info.get("createTime")
    ids = client.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    targets = client.batch_get_deployment_targets(deploymentId=deployment_id,
                                                  targetIds=ids)["deploymentTargets"] if ids else []
    for target in targets:
        instance = target.get("instanceTarget") or {}
        times = [(e.get("startTime"), e.get("endTime")) for e in instance.get("lifecycleEvents", [])
                 if e.get("startTime") and e.get("endTime")]
        if not times or origin is None:
            continue
        table.append({"host": instance.get("targetId"),
                      "start": (min(t[0] for t in times) - origin).total_seconds(),
                      "end": (max(t[1] for t in times) - origin).total_seconds(),
                      "status": instance.get("status")})
    return pd.DataFrame(table, columns=["host", "start", "end", "status"]).sort_values("host",
                                                                                      ignore_index=True)


def failed_events(lab, deployment_id: str) -> pd.DataFrame:
    """The failed lifecycle events of a deployment with their diagnostics (error code, script, log tail)."""
    client = lab.client("codedeploy")
    ids = client.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    rows = []
    if ids:
        for target in client.batch_get_deployment_targets(deploymentId=deployment_id,
                                                          targetIds=ids)["deploymentTargets"]:
            instance = target.get("instanceTarget") or {}
            for event in instance.get("lifecycleEvents", []):
                if event.get("status") == "Failed":
                    diagnostics = event.get("diagnostics") or {}
                    rows.append({"host": instance.get("targetId"), "event": event["lifecycleEventName"],
                                 "errorCode": diagnostics.get("errorCode"),
                                 "script": diagnostics.get("scriptName"),
                                 "logTail": (diagnostics.get("logTail") or "").strip()})
    return pd.DataFrame(rows, columns=["host", "event", "errorCode", "script", "logTail"])


def _describe(client, deployment_id: str) -> str:
    info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    overview = ", ".join(f"{k} {v}" for k, v in (info.get("deploymentOverview") or {}).items() if v)
    return f"{info['status']}" + (f" (instances: {overview})" if overview else "")
