"""CodePipeline state: pipelines (declarations, versions, transitions) and their executions."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from labkit.emulator.codepipeline.exceptions import (
    PipelineExecutionNotFoundException,
    PipelineNotFoundException,
    StageNotFoundException,
)


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ActionRun:
    """One run of one action (a retry makes a new one)."""

    name: str
    declaration: dict
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    summary: str | None = None
    token: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    error: dict | None = None
    updated_by: str | None = None
    started: datetime = field(default_factory=now)
    changed: datetime = field(default_factory=now)
    resolved_configuration: dict = field(default_factory=dict)
    input_artifacts: list[dict] = field(default_factory=list)
    output_artifacts: list[dict] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)
    revision: dict | None = None  # source actions: {revisionId, revisionChangeId, created, summary}

    def finish(self, status: str, summary: str | None = None, error: dict | None = None) -> None:
        self.status, self.changed = status, now()
        if summary is not None:
            self.summary = summary
        self.error = error

    def latest_execution(self) -> dict:
        return {
            "actionExecutionId": self.id,
            "status": self.status,
            "summary": self.summary,
            "lastStatusChange": self.changed,
            "token": self.token if self.status == "InProgress" else None,
            "lastUpdatedBy": self.updated_by,
            "externalExecutionId": self.external_id,
            "externalExecutionUrl": self.external_url,
            "errorDetails": self.error,
        }


@dataclass
class StageRun:
    name: str
    status: str = "InProgress"
    actions: dict[str, ActionRun] = field(default_factory=dict)
    attempt: int = 0


@dataclass
class Execution:
    id: str
    pipeline_name: str
    version: int
    declaration: dict
    trigger: dict
    mode: str
    variables: list[dict]
    source_overrides: dict[str, dict] = field(default_factory=dict)
    status: str = "InProgress"
    summary: str | None = None
    started: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)
    stages: dict[str, StageRun] = field(default_factory=dict)
    artifacts: dict[str, dict] = field(default_factory=dict)  # name -> {"bucket", "key"}
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    stop_mode: str | None = None  # None, "finish" or "abandon"
    stop_reason: str | None = None
    superseded: bool = False
    waiting_at: str | None = None  # the stage whose inbound transition it waits at
    history: list[tuple[str, ActionRun]] = field(default_factory=list)  # every action run

    @property
    def finished(self) -> bool:
        return self.status not in ("InProgress", "Stopping")

    def touch(self) -> None:
        self.updated = now()

    def source_revisions(self) -> list[dict]:
        revisions = []
        first_stage = self.declaration["stages"][0]
        for action in first_stage["actions"]:
            run = self.stages.get(first_stage["name"], StageRun("")).actions.get(action["name"])
            if run and run.revision:
                revisions.append({"actionName": action["name"],
                                  "revisionId": run.revision["revisionId"],
                                  "revisionSummary": run.revision.get("summary"),
                                  "revisionUrl": run.revision.get("url")})
        return revisions

    def summary_shape(self) -> dict:
        return {
            "pipelineExecutionId": self.id,
            "status": self.status,
            "statusSummary": self.summary,
            "startTime": self.started,
            "lastUpdateTime": self.updated,
            "sourceRevisions": self.source_revisions(),
            "trigger": self.trigger,
            "stopTrigger": {"reason": self.stop_reason} if self.stop_reason else None,
            "executionMode": self.mode,
            "executionType": "STANDARD",
        }

    def detail_shape(self) -> dict:
        revisions = []
        for item in self.source_revisions():
            revisions.append({"name": item["actionName"], "revisionId": item["revisionId"],
                              "revisionSummary": item.get("revisionSummary"),
                              "revisionUrl": item.get("revisionUrl")})
        return {
            "pipelineName": self.pipeline_name,
            "pipelineVersion": self.version,
            "pipelineExecutionId": self.id,
            "status": self.status,
            "statusSummary": self.summary,
            "artifactRevisions": revisions,
            "variables": [{"name": v["name"], "resolvedValue": v["value"]} for v in self.variables],
            "trigger": self.trigger,
            "executionMode": self.mode,
            "executionType": "STANDARD",
        }


class Pipeline:
    """A pipeline: its declaration history, transitions, stage locks and executions."""

    def __init__(self, declaration: dict, arn: str, tags: list[dict]):
        self.arn = arn
        self.declaration = declaration
        self.declaration["version"] = 1
        self.history = {1: declaration}
        self.created = self.updated = now()
        self.tags = {t["key"]: t.get("value", "") for t in tags}
        self.transitions: dict[str, dict] = {}
        self.executions: list[Execution] = []
        # A stage holds one execution at a time (not in PARALLEL mode); others wait at its
        # inbound transition, in arrival order.
        self.stage_holder: dict[str, str] = {}
        self.waiting: dict[str, list[str]] = {}
        self.cond = threading.Condition()
        self.deleted = False
        self.client_tokens: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.declaration["name"]

    @property
    def version(self) -> int:
        return self.declaration["version"]

    def update(self, declaration: dict) -> None:
        declaration["version"] = self.version + 1
        self.declaration = declaration
        self.history[declaration["version"]] = declaration
        self.updated = now()

    def stage(self, name: str) -> dict:
        for stage in self.declaration["stages"]:
            if stage["name"] == name:
                return stage
        raise StageNotFoundException(
            f"Stage '{name}' not found in pipeline '{self.name}'. Stages: "
            f"{', '.join(s['name'] for s in self.declaration['stages'])}.")

    def execution(self, execution_id: str) -> Execution:
        for execution in self.executions:
            if execution.id == execution_id:
                return execution
        raise PipelineExecutionNotFoundException(
            f"Pipeline execution '{execution_id}' not found in pipeline '{self.name}'")

    def transition(self, stage_name: str) -> dict:
        return self.transitions.setdefault(stage_name, {"enabled": True})

    def latest_in_stage(self, stage_name: str) -> Execution | None:
        """The most recent execution that entered `stage_name`."""
        entered = [e for e in self.executions if stage_name in e.stages]
        return max(entered, key=lambda e: e.stages[stage_name].attempt, default=None)

    def metadata(self) -> dict:
        return {"pipelineArn": self.arn, "created": self.created, "updated": self.updated}

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version,
                "pipelineType": self.declaration.get("pipelineType", "V1"),
                "executionMode": self.declaration.get("executionMode", "SUPERSEDED"),
                "created": self.created, "updated": self.updated}


class CodePipelineBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.pipelines: dict[str, Pipeline] = {}
        self.lock = threading.RLock()

    def arn(self, name: str) -> str:
        return f"arn:aws:codepipeline:{self.region}:{self.account_id}:{name}"

    def get(self, name: str) -> Pipeline:
        with self.lock:
            pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise PipelineNotFoundException(
                f"Account '{self.account_id}' does not have a pipeline with name '{name}'")
        return pipeline

    def list_pipelines(self) -> list[dict]:
        with self.lock:
            return [p.summary() for p in sorted(self.pipelines.values(), key=lambda p: p.name)]
