"""What ran, as DataFrames straight from the APIs: builds and their phases, pipeline executions
with their stages and actions, deployments with each host's lifecycle events."""

from __future__ import annotations

import pandas as pd

COLUMNS = ["kind", "id", "name", "stage", "host", "status", "start", "end", "duration_s"]


def _frame(rows: list[dict], extra: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS + extra)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["duration_s"] = (frame["end"] - frame["start"]).dt.total_seconds()
    return frame


def _pages(method, key: str, token: str = "nextToken", **params):
    while True:
        page = method(**params)
        yield from page.get(key) or []
        if not page.get(token):
            return
        params[token] = page[token]


def build_history(lab, project: str, limit: int | None = None) -> pd.DataFrame:
    """One row per build (kind "build") and per phase (kind "phase"), oldest build first.
    Extra columns: number, compute_type, cache, initiator, reported_s (AWS's whole seconds)."""
    codebuild = lab.client("codebuild")
    ids = list(
        _pages(
            codebuild.list_builds_for_project, "ids", projectName=project, sortOrder="DESCENDING"
        )
    )[:limit]
    builds = []
    for i in range(0, len(ids), 100):
        builds += codebuild.batch_get_builds(ids=ids[i : i + 100])["builds"]
    rows = []
    for build in sorted(builds, key=lambda b: b.get("buildNumber", 0)):
        common = {
            "id": build["id"],
            "number": build.get("buildNumber"),
            "compute_type": build.get("environment", {}).get("computeType"),
            "cache": build.get("cache", {}).get("type", "NO_CACHE"),
            "initiator": build.get("initiator"),
        }
        rows.append(
            {
                **common,
                "kind": "build",
                "name": project,
                "status": build["buildStatus"],
                "start": build.get("startTime"),
                "end": build.get("endTime"),
                "reported_s": _seconds(build.get("startTime"), build.get("endTime")),
            }
        )
        for phase in build.get("phases", []):
            if phase["phaseType"] == "COMPLETED":
                continue  # a marker with no end: AWS gives it no duration
            rows.append(
                {
                    **common,
                    "kind": "phase",
                    "name": phase["phaseType"],
                    "status": phase.get("phaseStatus", "IN_PROGRESS"),
                    "start": phase.get("startTime"),
                    "end": phase.get("endTime"),
                    "reported_s": phase.get("durationInSeconds"),
                }
            )
    return _frame(rows, ["number", "compute_type", "cache", "initiator", "reported_s"])


def _seconds(start, end) -> float | None:
    return (end - start).total_seconds() if start and end else None


def pipeline_history(lab, pipeline: str, limit: int | None = None) -> pd.DataFrame:
    """One row per execution, per stage of an execution and per action execution.
    Extra columns: trigger, category, provider, external_id."""
    codepipeline = lab.client("codepipeline")
    executions = list(
        _pages(
            codepipeline.list_pipeline_executions,
            "pipelineExecutionSummaries",
            pipelineName=pipeline,
        )
    )[:limit]
    wanted = {e["pipelineExecutionId"] for e in executions}
    stages = codepipeline.get_pipeline(name=pipeline)["pipeline"]["stages"]
    order = {stage["name"]: i for i, stage in enumerate(stages)}
    actions = [
        a
        for a in _pages(
            codepipeline.list_action_executions, "actionExecutionDetails", pipelineName=pipeline
        )
        if a["pipelineExecutionId"] in wanted
    ]
    rows = []
    for execution in sorted(executions, key=lambda e: e["startTime"]):
        execution_id = execution["pipelineExecutionId"]
        rows.append(
            {
                "kind": "execution",
                "id": execution_id,
                "name": pipeline,
                "status": execution["status"],
                "start": execution["startTime"],
                "end": execution.get("lastUpdateTime"),
                "trigger": execution.get("trigger", {}).get("triggerType"),
            }
        )
        # Stages run in their declared order; times alone can tie at millisecond resolution.
        mine = sorted(
            (a for a in actions if a["pipelineExecutionId"] == execution_id),
            key=lambda a: (order.get(a["stageName"], len(order)), a["startTime"]),
        )
        for stage in dict.fromkeys(a["stageName"] for a in mine):
            inside = [a for a in mine if a["stageName"] == stage]
            rows.append(
                {
                    "kind": "stage",
                    "id": execution_id,
                    "name": stage,
                    "stage": stage,
                    "status": _stage_status([a["status"] for a in inside]),
                    "start": min(a["startTime"] for a in inside),
                    "end": max(a["lastUpdateTime"] for a in inside),
                }
            )
        for action in mine:
            type_id = action.get("input", {}).get("actionTypeId", {})
            rows.append(
                {
                    "kind": "action",
                    "id": execution_id,
                    "name": action["actionName"],
                    "stage": action["stageName"],
                    "status": action["status"],
                    "start": action["startTime"],
                    "end": action["lastUpdateTime"],
                    "category": type_id.get("category"),
                    "provider": type_id.get("provider"),
                    "external_id": action.get("output", {})
                    .get("executionResult", {})
                    .get("externalExecutionId"),
                }
            )
    return _frame(rows, ["trigger", "category", "provider", "external_id"])


def _stage_status(statuses: list[str]) -> str:
    for status in ("InProgress", "Failed", "Abandoned"):
        if status in statuses:
            return status
    return "Succeeded"


def deployment_history(
    lab, application: str, group: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """One row per deployment and per lifecycle event on each host (kind "event", host = the
    instance id). Extra columns: group, event_status_detail (the error code of a failed event)."""
    codedeploy = lab.client("codedeploy")
    params = {"applicationName": application}
    if group:
        params["deploymentGroupName"] = group
    ids = list(_pages(codedeploy.list_deployments, "deployments", **params))[:limit]
    infos = []
    for i in range(0, len(ids), 25):
        infos += codedeploy.batch_get_deployments(deploymentIds=ids[i : i + 25])["deploymentsInfo"]
    rows = []
    for info in sorted(infos, key=lambda d: d["createTime"]):
        deployment_id = info["deploymentId"]
        rows.append(
            {
                "kind": "deployment",
                "id": deployment_id,
                "name": application,
                "status": info["status"],
                "group": info.get("deploymentGroupName"),
                "start": info.get("startTime") or info["createTime"],
                "end": info.get("completeTime"),
            }
        )
        target_ids = list(
            _pages(codedeploy.list_deployment_targets, "targetIds", deploymentId=deployment_id)
        )
        for i in range(0, len(target_ids), 25):
            targets = codedeploy.batch_get_deployment_targets(
                deploymentId=deployment_id, targetIds=target_ids[i : i + 25]
            )["deploymentTargets"]
            for target in targets:
                instance = target.get("instanceTarget") or {}
                for event in instance.get("lifecycleEvents", []):
                    rows.append(
                        {
                            "kind": "event",
                            "id": deployment_id,
                            "name": event["lifecycleEventName"],
                            "host": instance.get("targetId"),
                            "status": event.get("status"),
                            "group": info.get("deploymentGroupName"),
                            "start": event.get("startTime"),
                            "end": event.get("endTime"),
                            "event_status_detail": (event.get("diagnostics") or {}).get(
                                "errorCode"
                            ),
                        }
                    )
    return _frame(rows, ["group", "event_status_detail"])
