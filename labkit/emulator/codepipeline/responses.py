"""CodePipeline requests: JSON in, model or engine call, JSON out."""

from __future__ import annotations

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codepipeline import action_types
from labkit.emulator.codepipeline.engine import PipelineEngine
from labkit.emulator.codepipeline.exceptions import (
    ActionNotFoundException,
    ActionTypeNotFoundException,
    ApprovalAlreadyCompletedException,
    ConflictException,
    DuplicatedStopRequestException,
    InvalidApprovalTokenException,
    InvalidNextTokenException,
    NotLatestPipelineExecutionException,
    PipelineExecutionNotStoppableException,
    PipelineNameInUseException,
    PipelineVersionNotFoundException,
    ResourceNotFoundException,
    StageNotRetryableException,
    ValidationException,
)
from labkit.emulator.codepipeline.models import CodePipelineBackend, Pipeline, now
from labkit.emulator.codepipeline.state import action_execution_details, pipeline_state
from labkit.emulator.codepipeline.triggers import PipelineTriggers
from labkit.emulator.codepipeline.validation import normalise_and_validate
from labkit.emulator.identity import caller_arn
from labkit.emulator.json_api import JsonService


def paginate(items: list, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """Offset tokens, as opaque as AWS's: `nextToken` is the index of the next item."""
    token = params.get("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidNextTokenException("The next token is not valid.") from None
    size = params.get("maxResults") or default_size
    page = items[start:start + size]
    return page, (str(start + size) if start + size < len(items) else None)


class CodePipelineResponses(JsonService):
    service_name = "codepipeline"
    validation_error = ValidationException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodePipelineBackend)
        self.engine = PipelineEngine(runtime)
        self.triggers = PipelineTriggers(runtime, self)
        runtime.on_reset(self._reset)

    def _reset(self) -> None:
        for backend in self.backends:
            for pipeline in backend.pipelines.values():
                pipeline.deleted = True
        self.backends.reset()

    def backend(self, ctx) -> CodePipelineBackend:
        return self.backends.get(ctx.account_id, ctx.region)

    # --- definitions ----------------------------------------------------------------------
    def create_pipeline(self, params, ctx):
        backend = self.backend(ctx)
        declaration = normalise_and_validate(params["pipeline"], ctx.account_id, ctx.region)
        tags = params.get("tags", [])
        with backend.lock:
            if declaration["name"] in backend.pipelines:
                raise PipelineNameInUseException(
                    f"A pipeline with the name '{declaration['name']}' already exists in account "
                    f"'{ctx.account_id}'")
            pipeline = Pipeline(declaration, backend.arn(declaration["name"]), tags)
            backend.pipelines[pipeline.name] = pipeline
        self.triggers.prime(backend, pipeline)
        # As on AWS, a new pipeline runs once straight away.
        self.engine.start(backend, pipeline, {"triggerType": "CreatePipeline",
                                              "triggerDetail": caller_arn(ctx)})
        return {"pipeline": pipeline.declaration, "tags": tags or None}

    def get_pipeline(self, params, ctx):
        pipeline = self.backend(ctx).get(params["name"])
        version = params.get("version")
        if version is not None and version not in pipeline.history:
            raise PipelineVersionNotFoundException(
                f"Pipeline '{pipeline.name}' has no version {version}; its latest version is "
                f"{pipeline.version}.")
        return {"pipeline": pipeline.history[version or pipeline.version],
                "metadata": pipeline.metadata()}

    def update_pipeline(self, params, ctx):
        backend = self.backend(ctx)
        pipeline = backend.get(params["pipeline"]["name"])
        declaration = normalise_and_validate(params["pipeline"], ctx.account_id, ctx.region)
        with pipeline.cond:
            pipeline.update(declaration)
        self.triggers.prime(backend, pipeline)
        return {"pipeline": pipeline.declaration}

    def delete_pipeline(self, params, ctx):
        backend = self.backend(ctx)
        with backend.lock:
            pipeline = backend.pipelines.pop(params["name"], None)
        if pipeline is not None:  # deleting a pipeline that does not exist succeeds, as on AWS
            with pipeline.cond:
                pipeline.deleted = True
                pipeline.cond.notify_all()
        return {}

    def list_pipelines(self, params, ctx):
        page, token = paginate(self.backend(ctx).list_pipelines(), params, 1000)
        return {"pipelines": page, "nextToken": token}

    # --- tags ---------------------------------------------------------------------------
    def _by_arn(self, arn: str, ctx) -> Pipeline:
        name = arn.rsplit(":", 1)[-1]
        backend = self.backend(ctx)
        with backend.lock:
            pipeline = backend.pipelines.get(name)
        if pipeline is None or pipeline.arn != arn:
            raise ResourceNotFoundException(f"The resource with ARN {arn} was not found.")
        return pipeline

    def list_tags_for_resource(self, params, ctx):
        pipeline = self._by_arn(params["resourceArn"], ctx)
        return {"tags": [{"key": k, "value": v} for k, v in pipeline.tags.items()]}

    def tag_resource(self, params, ctx):
        pipeline = self._by_arn(params["resourceArn"], ctx)
        pipeline.tags.update({t["key"]: t.get("value", "") for t in params["tags"]})
        return {}

    def untag_resource(self, params, ctx):
        pipeline = self._by_arn(params["resourceArn"], ctx)
        for key in params["tagKeys"]:
            pipeline.tags.pop(key, None)
        return {}

    # --- executions ---------------------------------------------------------------------
    def start_pipeline_execution(self, params, ctx):
        backend = self.backend(ctx)
        pipeline = backend.get(params["name"])
        token = params.get("clientRequestToken")
        with pipeline.cond:
            if token and token in pipeline.client_tokens:
                return {"pipelineExecutionId": pipeline.client_tokens[token]}
        overrides = {}
        for item in params.get("sourceRevisions", []):
            overrides[item["actionName"]] = item
        execution = self.engine.start(
            backend, pipeline, {"triggerType": "StartPipelineExecution",
                                "triggerDetail": caller_arn(ctx)},
            params.get("variables"), overrides)
        if token:
            pipeline.client_tokens[token] = execution.id
        return {"pipelineExecutionId": execution.id}

    def get_pipeline_execution(self, params, ctx):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        return {"pipelineExecution": pipeline.execution(params["pipelineExecutionId"]).detail_shape()}

    def list_pipeline_executions(self, params, ctx):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        with pipeline.cond:
            executions = list(reversed(pipeline.executions))
        wanted = ((params.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        if wanted:
            executions = [e for e in executions
                          if e.stages.get(wanted) and e.stages[wanted].status == "Succeeded"]
        page, token = paginate([e.summary_shape() for e in executions], params)
        return {"pipelineExecutionSummaries": page, "nextToken": token}

    def get_pipeline_state(self, params, ctx):
        pipeline = self.backend(ctx).get(params["name"])
        with pipeline.cond:
            return pipeline_state(pipeline)

    def list_action_executions(self, params, ctx):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        wanted = (params.get("filter") or {}).get("pipelineExecutionId")
        with pipeline.cond:
            if wanted:
                pipeline.execution(wanted)
            details = action_execution_details(pipeline, wanted)
        page, token = paginate(details, params)
        return {"actionExecutionDetails": page, "nextToken": token}

    def stop_pipeline_execution(self, params, ctx):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        execution = pipeline.execution(params["pipelineExecutionId"])
        abandon = bool(params.get("abandon"))
        if execution.status == "Stopping" and not abandon:
            raise DuplicatedStopRequestException(
                f"Execution {execution.id} is already stopping. To stop it at once, stop it "
                "again with abandon.")
        if execution.status not in ("InProgress", "Stopping"):
            raise PipelineExecutionNotStoppableException(
                f"Execution {execution.id} is {execution.status} and cannot be stopped.")
        self.engine.stop(pipeline, execution, abandon, params.get("reason"))
        return {"pipelineExecutionId": execution.id}

    def retry_stage_execution(self, params, ctx):
        backend = self.backend(ctx)
        pipeline = backend.get(params["pipelineName"])
        stage_name = params["stageName"]
        pipeline.stage(stage_name)
        execution = pipeline.execution(params["pipelineExecutionId"])
        with pipeline.cond:
            run = execution.stages.get(stage_name)
            if run is None or run.status != "Failed" or execution.status != "Failed":
                raise StageNotRetryableException(
                    f"Stage '{stage_name}' of execution {execution.id} cannot be retried: only a "
                    "failed stage of a failed execution can be retried.")
            if pipeline.latest_in_stage(stage_name) is not execution:
                raise NotLatestPipelineExecutionException(
                    f"Execution {execution.id} is not the latest execution in stage "
                    f"'{stage_name}'; only the latest execution of a stage can be retried.")
            if pipeline.stage_holder.get(stage_name):
                raise ConflictException(f"Stage '{stage_name}' is busy with another execution.")
        self.engine.retry(backend, pipeline, execution, stage_name, params["retryMode"])
        return {"pipelineExecutionId": execution.id}

    def put_approval_result(self, params, ctx):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        stage = pipeline.stage(params["stageName"])
        if not any(a["name"] == params["actionName"] for a in stage["actions"]):
            raise ActionNotFoundException(
                f"Action '{params['actionName']}' not found in stage '{stage['name']}'.")
        with pipeline.cond:
            run = _approval_run(pipeline, stage["name"], params["actionName"], params["token"])
            if run is None:
                raise InvalidApprovalTokenException(
                    f"The approval token {params['token']} is not valid for action "
                    f"'{params['actionName']}' in stage '{stage['name']}'.")
            if run.status != "InProgress":
                raise ApprovalAlreadyCompletedException(
                    f"The approval for action '{run.name}' has already been "
                    f"{'approved' if run.status == 'Succeeded' else 'answered'}.")
            result = params["result"]
            run.updated_by = caller_arn(ctx)
            if result["status"] == "Approved":
                run.finish("Succeeded", summary=result["summary"])
            else:
                run.finish("Failed", summary=result["summary"], error={
                    "code": "JobFailed",
                    "message": f"Rejected by {run.updated_by}: {result['summary']}"})
            pipeline.cond.notify_all()
        return {"approvedAt": now()}

    # --- transitions ----------------------------------------------------------------------
    def disable_stage_transition(self, params, ctx):
        return self._set_transition(params, ctx, enabled=False)

    def enable_stage_transition(self, params, ctx):
        return self._set_transition(params, ctx, enabled=True)

    def _set_transition(self, params, ctx, enabled: bool):
        pipeline = self.backend(ctx).get(params["pipelineName"])
        pipeline.stage(params["stageName"])
        if params["transitionType"] == "Outbound":
            raise ValidationException(
                "labkit's emulator controls Inbound transitions only; disable the next stage's "
                "Inbound transition instead.")
        with pipeline.cond:
            state = {"enabled": enabled, "lastChangedBy": caller_arn(ctx), "lastChangedAt": now()}
            if not enabled:
                state["disabledReason"] = params.get("reason")
            pipeline.transitions[params["stageName"]] = state
            pipeline.cond.notify_all()
        return {}

    # --- action types ------------------------------------------------------------------------
    def list_action_types(self, params, ctx):
        owner = params.get("actionOwnerFilter")
        types = [action_types.summary(t) for t in action_types.ACTION_TYPES
                 if not owner or t.owner == owner]
        return {"actionTypes": types}

    def get_action_type(self, params, ctx):
        kind = action_types.find({"category": params["category"], "owner": params["owner"],
                                  "provider": params["provider"], "version": params["version"]})
        if kind is None:
            raise ActionTypeNotFoundException("The specified action type cannot be found.")
        described = action_types.summary(kind)
        return {"actionType": {
            "executor": {"configuration": {}, "type": "JobWorker"},
            "id": described["id"],
            "inputArtifactDetails": described["inputArtifactDetails"],
            "outputArtifactDetails": described["outputArtifactDetails"],
            "permissions": {"allowedAccounts": ["*"]},
            "properties": [{"name": p["name"], "optional": not p["required"], "key": p["key"],
                            "noEcho": False} for p in described["actionConfigurationProperties"]],
        }}


def _approval_run(pipeline: Pipeline, stage_name: str, action_name: str, token: str):
    for execution in reversed(pipeline.executions):
        stage = execution.stages.get(stage_name)
        run = stage.actions.get(action_name) if stage else None
        if run is not None and run.token == token:
            return run
    return None
