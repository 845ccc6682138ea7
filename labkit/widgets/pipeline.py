"""PipelineView: stages and actions with status colours, from GetPipelineState."""

from __future__ import annotations

from labkit.services.codepipeline import FINAL
from labkit.widgets.base import LiveView


class PipelineView(LiveView):
    columns = ("stage", "action", "status", "summary")

    def __init__(self, lab, pipeline: str, execution_id: str | None = None, **kwargs):
        super().__init__(lab, **kwargs)
        self.pipeline = pipeline
        self.execution_id = execution_id

    def title(self) -> str:
        return f"Pipeline {self.pipeline}"

    def rows(self) -> list[dict]:
        state = self.lab.client("codepipeline").get_pipeline_state(name=self.pipeline)
        rows = []
        for stage in state["stageStates"]:
            for action in stage["actionStates"]:
                latest = action.get("latestExecution", {})
                summary = (latest.get("errorDetails") or {}).get("message") or latest.get("summary") or ""
                rows.append({"stage": stage["stageName"], "action": action["actionName"],
                             "status": latest.get("status", "—"), "summary": summary.splitlines()[0] if summary else ""})
        return rows

    def finished(self) -> bool:
        client = self.lab.client("codepipeline")
        if self.execution_id:
            status = client.get_pipeline_execution(pipelineName=self.pipeline,
                                                   pipelineExecutionId=self.execution_id)["pipelineExecution"]["status"]
            return status in FINAL
        summaries = client.list_pipeline_executions(pipelineName=self.pipeline,
                                                    maxResults=1)["pipelineExecutionSummaries"]
        return not summaries or summaries[0]["status"] in FINAL
