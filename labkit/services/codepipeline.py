"""CodePipeline helpers: wait for an execution or an approval, the pipeline's state as a table."""

from __future__ import annotations

import pandas as pd

from labkit.progress import Progress, poll

FINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")


def latest_execution_id(lab, pipeline: str, timeout: float = 60) -> str:
    client = lab.client("codepipeline")
    summaries = poll(lambda: client.list_pipeline_executions(pipelineName=pipeline)[
        "pipelineExecutionSummaries"], timeout, what=f"a first execution of {pipeline}")
    return summaries[0]["pipelineExecutionId"]


def wait_for_execution(lab, pipeline: str, execution_id: str | None = None,
                       timeout: float = 1800) -> dict:
    """Follow an execution stage by stage until it ends; return GetPipelineExecution's record."""
    client = lab.client("codepipeline")
    execution_id = execution_id or latest_execution_id(lab, pipeline)
    stages = [s["name"] for s in client.get_pipeline(name=pipeline)["pipeline"]["stages"]]
    with Progress(len(stages), f"Pipeline {pipeline}", unit="stage") as bar:
        def finished():
            done = 0
            for stage in client.get_pipeline_state(name=pipeline)["stageStates"]:
                latest = stage.get("latestExecution", {})
                if latest.get("pipelineExecutionId") == execution_id and \
                        latest.get("status") == "Succeeded":
                    done += 1
            record = client.get_pipeline_execution(pipelineName=pipeline,
                                                   pipelineExecutionId=execution_id)
            status = record["pipelineExecution"]["status"]
            bar.update(done, status)
            return record["pipelineExecution"] if status in FINAL else None

        execution = poll(finished, timeout, what=f"pipeline {pipeline}",
                         last_state=lambda: "with stages " + ", ".join(
                             f"{r['stage']}/{r['action']} {r['status']}"
                             for r in state_table(lab, pipeline).to_dict("records")))
        bar.done(execution["status"])
    return execution


def wait_for_approval(lab, pipeline: str, stage: str, action: str, timeout: float = 1800,
                      execution_id: str | None = None) -> str:
    """Wait until the approval action waits for a person; return its token. With `execution_id`,
    only that execution's approval counts, and an execution that ends before it fails at once,
    naming the failed actions."""
    client = lab.client("codepipeline")

    def token():
        for stage_state in client.get_pipeline_state(name=pipeline)["stageStates"]:
            if stage_state["stageName"] != stage:
                continue
            current = stage_state.get("latestExecution", {}).get("pipelineExecutionId")
            for state in stage_state["actionStates"]:
                latest = state.get("latestExecution", {})
                if state["actionName"] == action and latest.get("status") == "InProgress" and \
                        execution_id in (None, current):
                    return latest.get("token")
        if execution_id:
            _fail_if_ended(client, pipeline, execution_id, f"{stage}/{action}")
        return None

    with Progress(1, f"Approval {stage}/{action}") as bar:
        found = poll(token, timeout, what=f"approval {stage}/{action}")
        bar.done("waiting for a decision")
    return found


def _fail_if_ended(client, pipeline: str, execution_id: str, waiting_for: str) -> None:
    status = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["status"]
    if status in ("InProgress", "Stopping"):
        return
    failed = [f"{s['stageName']}/{a['actionName']}: "
              f"{a.get('latestExecution', {}).get('errorDetails', {}).get('message')}"
              for s in client.get_pipeline_state(name=pipeline)["stageStates"] for a in s["actionStates"]
              if a.get("latestExecution", {}).get("status") == "Failed"]
    raise RuntimeError(f"The execution ended {status} before {waiting_for}: " + "; ".join(failed))


def state_table(lab, pipeline: str) -> pd.DataFrame:
    """One row per action: its stage, status and summary in the latest execution."""
    rows = []
    for stage in lab.client("codepipeline").get_pipeline_state(name=pipeline)["stageStates"]:
        for action in stage["actionStates"]:
            latest = action.get("latestExecution", {})
            error = latest.get("errorDetails", {}).get("message")
            rows.append({"stage": stage["stageName"], "action": action["actionName"],
                         "status": latest.get("status", "—"),
                         "summary": error or latest.get("summary") or ""})
    return pd.DataFrame(rows, columns=["stage", "action", "status", "summary"])


def action(name: str, category: str, provider: str, configuration: dict, run_order: int = 1,
           inputs: tuple = (), outputs: tuple = (), namespace: str | None = None) -> dict:
    """One action of a stage (owner AWS, version 1); equal run_order runs side by side."""
    declared = {"name": name, "runOrder": run_order,
                "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
                "configuration": configuration,
                "inputArtifacts": [{"name": n} for n in inputs],
                "outputArtifacts": [{"name": n} for n in outputs]}
    if namespace:
        declared["namespace"] = namespace
    return declared


def source_stage(names, branch: str = "main") -> dict:
    """The course repository's branch as SourceOutput (no polling: EventBridge starts the pipeline)."""
    return {"name": "Source", "actions": [action(
        "Source", "Source", "CodeCommit",
        {"RepositoryName": names.repository, "BranchName": branch,
         "PollForSourceChanges": "false", "OutputArtifactFormat": "CODE_ZIP"},
        outputs=("SourceOutput",), namespace="SourceVariables")]}


def pipeline_definition(names, role_arn: str) -> dict:
    """Source (CodeCommit, started by EventBridge) → Build (CodeBuild) → Deploy (CodeDeploy)."""
    return {
        "name": names.pipeline,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": names.artifact_bucket},
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
        "stages": [
            source_stage(names),
            {"name": "Build", "actions": [action(
                "Build", "Build", "CodeBuild", {"ProjectName": names.pipeline_build_project},
                inputs=("SourceOutput",), outputs=("BuildOutput",), namespace="BuildVariables")]},
            {"name": "Deploy", "actions": [action(
                "Deploy", "Deploy", "CodeDeploy",
                {"ApplicationName": names.codedeploy_app, "DeploymentGroupName": names.deployment_group},
                inputs=("BuildOutput",))]},
        ],
    }


def ensure_pipeline(lab, definition: dict) -> str:
    """Create the pipeline, or update it to `definition`; return 'created' or 'updated'."""
    client = lab.client("codepipeline")
    try:
        client.create_pipeline(pipeline=definition, tags=lab.tags.as_list(key="key", value="value"))
        return "created"
    except client.exceptions.PipelineNameInUseException:
        client.update_pipeline(pipeline=definition)
        return "updated"


def source_rule_pattern(names, branch: str = "main") -> dict:
    """The EventBridge pattern of a push (or a new branch) to `branch` of the course's repository."""
    return {"source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [names.arn("codecommit", names.repository)],
            "detail": {"event": ["referenceCreated", "referenceUpdated"],
                       "referenceType": ["branch"], "referenceName": [branch]}}


def executions_table(lab, pipeline: str, count: int = 10) -> pd.DataFrame:
    """The newest executions: status, how it started, the commit it carried (newest first)."""
    client = lab.client("codepipeline")
    summaries = client.list_pipeline_executions(pipelineName=pipeline,
                                                maxResults=count)["pipelineExecutionSummaries"]
    rows = []
    for summary in summaries:
        revision = (summary.get("sourceRevisions") or [{}])[0]
        rows.append({"status": summary["status"],
                     "trigger": summary.get("trigger", {}).get("triggerType", ""),
                     "commit": (revision.get("revisionId") or "")[:7],
                     "message": (revision.get("revisionSummary") or "").splitlines()[0]
                     if revision.get("revisionSummary") else ""})
    return pd.DataFrame(rows, columns=["status", "trigger", "commit", "message"])


def wait_for_new_execution(lab, pipeline: str, known: set[str], timeout: float = 60) -> str:
    """Wait for an execution whose id is not in `known` (e.g. the one a push starts); return its id."""
    client = lab.client("codepipeline")

    def new_one():
        for summary in client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]:
            if summary["pipelineExecutionId"] not in known:
                return summary["pipelineExecutionId"]
        return None

    with Progress(1, f"New execution of {pipeline}") as bar:
        found = poll(new_one, timeout, what=f"a new execution of {pipeline}")
        bar.done("started")
    return found


def execution_ids(lab, pipeline: str) -> set[str]:
    client = lab.client("codepipeline")
    return {s["pipelineExecutionId"] for s in
            client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]}
