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

        info = poll(finished, timeout, what=f"deployment {deployment_id}")
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
