"""What CodePipeline tells the world: EventBridge state-change events and CloudWatch metrics."""

from __future__ import annotations

import logging

log = logging.getLogger("labkit.emulator.codepipeline")

SOURCE = "aws.codepipeline"
PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
ACTION_EVENT = "CodePipeline Action Execution State Change"
# Execution/stage/action statuses as the events spell them.
EVENT_STATE = {"InProgress": "STARTED", "Succeeded": "SUCCEEDED", "Failed": "FAILED",
               "Stopped": "STOPPED", "Stopping": "STOPPING", "Superseded": "SUPERSEDED",
               "Cancelled": "CANCELED", "Abandoned": "ABANDONED"}


class PipelineNotifier:
    def __init__(self, runtime, account_id: str, region: str):
        self.runtime = runtime
        self.account_id = account_id
        self.region = region

    def _put(self, detail_type: str, pipeline, execution, state: str, extra: dict) -> None:
        detail = {"pipeline": execution.pipeline_name, "execution-id": execution.id,
                  "state": state, "version": float(execution.version), **extra}
        try:
            self.runtime.events.put_event(self.account_id, self.region, SOURCE, detail_type,
                                          detail, [pipeline.arn])
        except Exception:  # events are a side channel: never fail the pipeline for them
            log.exception("could not send %s", detail_type)

    def pipeline_state(self, pipeline, execution, state: str) -> None:
        trigger = execution.trigger or {}
        self._put(PIPELINE_EVENT, pipeline, execution, state, {
            "execution-trigger": {"trigger-type": trigger.get("triggerType"),
                                  "trigger-detail": trigger.get("triggerDetail")},
            "start-time": execution.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        })

    def stage_state(self, pipeline, execution, stage_name: str, state: str) -> None:
        self._put(STAGE_EVENT, pipeline, execution, state, {"stage": stage_name})

    def action_state(self, pipeline, execution, stage_name: str, run, state: str) -> None:
        type_id = run.declaration["actionTypeId"]
        extra = {"stage": stage_name, "action": run.name, "region": self.region,
                 "execution-result": {"external-execution-id": run.external_id,
                                      "external-execution-summary": run.summary},
                 "type": {k: type_id[k] for k in ("owner", "provider", "category", "version")}}
        self._put(ACTION_EVENT, pipeline, execution, state, extra)

    def execution_metrics(self, execution) -> None:
        """AWS/CodePipeline: PipelineDuration (s) and FailedPipelineExecutions (count)."""
        from moto.cloudwatch.models import cloudwatch_backends

        dims = [{"Name": "PipelineName", "Value": execution.pipeline_name}]
        data = [{"MetricName": "PipelineDuration", "Dimensions": dims, "Unit": "Seconds",
                 "Value": round((execution.updated - execution.started).total_seconds(), 3)}]
        if execution.status == "Failed":
            data.append({"MetricName": "FailedPipelineExecutions", "Dimensions": dims,
                         "Unit": "Count", "Value": 1.0})
        try:
            cloudwatch_backends[self.account_id][self.region].put_metric_data(
                "AWS/CodePipeline", data)
        except Exception:
            log.exception("could not put pipeline metrics")
