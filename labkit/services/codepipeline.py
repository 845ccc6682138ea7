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

        execution = poll(finished, timeout, what=f"pipeline {pipeline}")
        bar.done(execution["status"])
    return execution


def wait_for_approval(lab, pipeline: str, stage: str, action: str, timeout: float = 1800) -> str:
    """Wait until the approval action waits for a person; return its token."""
    client = lab.client("codepipeline")

    def token():
        for stage_state in client.get_pipeline_state(name=pipeline)["stageStates"]:
            if stage_state["stageName"] != stage:
                continue
            for state in stage_state["actionStates"]:
                latest = state.get("latestExecution", {})
                if state["actionName"] == action and latest.get("status") == "InProgress":
                    return latest.get("token")
        return None

    with Progress(1, f"Approval {stage}/{action}") as bar:
        found = poll(token, timeout, what=f"approval {stage}/{action}")
        bar.done("waiting for a decision")
    return found


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
