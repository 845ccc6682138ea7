"""Render pipeline state as GetPipelineState and ListActionExecutions answer it."""

from __future__ import annotations

from dateutil.parser import isoparse

from labkit.emulator.codepipeline.models import Pipeline


def pipeline_state(pipeline: Pipeline) -> dict:
    stages = []
    for stage in pipeline.declaration["stages"]:
        name = stage["name"]
        state: dict = {"stageName": name, "inboundTransitionState": pipeline.transition(name),
                       "actionStates": []}
        waiting = [pipeline.execution(i) for i in pipeline.waiting.get(name, [])]
        if waiting:
            shapes = [{"pipelineExecutionId": e.id, "status": "InProgress"} for e in waiting]
            state["inboundExecution"], state["inboundExecutions"] = shapes[0], shapes
        latest = pipeline.latest_in_stage(name)
        stage_run = latest.stages[name] if latest else None
        if stage_run:
            status = stage_run.status
            if status == "InProgress" and latest.stop_mode:
                status = "Stopping"
            state["latestExecution"] = {"pipelineExecutionId": latest.id, "status": status}
        for action in stage["actions"]:
            action_state: dict = {"actionName": action["name"]}
            run = stage_run.actions.get(action["name"]) if stage_run else None
            if run is not None:
                action_state["latestExecution"] = run.latest_execution()
                if run.revision:
                    action_state["currentRevision"] = {
                        "revisionId": run.revision["revisionId"],
                        "revisionChangeId": run.revision["revisionChangeId"],
                        "created": isoparse(run.revision["created"]),
                    }
                    if run.revision.get("url"):
                        action_state["revisionUrl"] = run.revision["url"]
            state["actionStates"].append(action_state)
        stages.append(state)
    return {"pipelineName": pipeline.name, "pipelineVersion": pipeline.version,
            "stageStates": stages, "created": pipeline.created, "updated": pipeline.updated}


def action_execution_details(pipeline: Pipeline, execution_id: str | None) -> list[dict]:
    """Newest first, one entry per action run (retries included)."""
    details = []
    for execution in reversed(pipeline.executions):
        if execution_id and execution.id != execution_id:
            continue
        for stage_name, run in reversed(execution.history):
            action = run.declaration
            details.append({
                "pipelineExecutionId": execution.id,
                "actionExecutionId": run.id,
                "pipelineVersion": execution.version,
                "stageName": stage_name,
                "actionName": run.name,
                "startTime": run.started,
                "lastUpdateTime": run.changed,
                "updatedBy": run.updated_by,
                "status": run.status,
                "input": {
                    "actionTypeId": action["actionTypeId"],
                    "configuration": action.get("configuration", {}),
                    "resolvedConfiguration": run.resolved_configuration,
                    "roleArn": action.get("roleArn"),
                    "region": action.get("region") or pipeline.arn.split(":")[3],
                    "inputArtifacts": run.input_artifacts,
                    "namespace": action.get("namespace"),
                },
                "output": {
                    "outputArtifacts": run.output_artifacts,
                    "executionResult": {
                        "externalExecutionId": run.external_id,
                        "externalExecutionSummary": run.summary,
                        "externalExecutionUrl": run.external_url,
                        "errorDetails": run.error,
                    },
                    "outputVariables": run.output_variables,
                },
            })
    return details
