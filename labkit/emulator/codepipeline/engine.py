"""The execution engine: moves each execution from stage to stage, with AWS's stage locking,
execution modes (SUPERSEDED, QUEUED, PARALLEL), runOrder groups, stops and retries."""

from __future__ import annotations

import copy
import itertools
import logging
import threading
import uuid

from labkit.emulator.codepipeline import providers
from labkit.emulator.codepipeline.context import ActionAbandoned, ActionContext, ActionFailed
from labkit.emulator.codepipeline.models import ActionRun, Execution, StageRun, now
from labkit.emulator.codepipeline.notify import EVENT_STATE, PipelineNotifier
from labkit.emulator.codepipeline.variables import UnresolvedVariable, resolve_configuration

log = logging.getLogger("labkit.emulator.codepipeline")
WAIT_SLICE = 0.25  # how often a waiting execution re-checks stops and shutdown


class PipelineEngine:
    def __init__(self, runtime):
        self.runtime = runtime
        self._attempts = itertools.count(1)  # orders stage entries, so "latest" is well defined
        self._threads: list[threading.Thread] = []

    # --- starting -----------------------------------------------------------------------
    def start(self, backend, pipeline, trigger: dict, variables: list[dict] | None = None,
              source_overrides: dict[str, dict] | None = None) -> Execution:
        declaration = copy.deepcopy(pipeline.declaration)
        execution = Execution(
            id=str(uuid.uuid4()), pipeline_name=pipeline.name, version=pipeline.version,
            declaration=declaration, trigger=trigger,
            mode=declaration.get("executionMode", "SUPERSEDED"),
            variables=_resolve_pipeline_variables(declaration, variables or []),
            source_overrides=source_overrides or {},
        )
        execution.namespaces["variables"] = {v["name"]: v["value"] for v in execution.variables}
        execution.namespaces["codepipeline"] = {"PipelineExecutionId": execution.id}
        with pipeline.cond:
            pipeline.executions.append(execution)
        self._spawn(backend, pipeline, execution, 0, None)
        return execution

    def retry(self, backend, pipeline, execution: Execution, stage_name: str, mode: str) -> None:
        index = [s["name"] for s in execution.declaration["stages"]].index(stage_name)
        with pipeline.cond:
            execution.status, execution.summary = "InProgress", None
            execution.touch()
        self._spawn(backend, pipeline, execution, index, mode)

    def _spawn(self, backend, pipeline, execution, index, retry_mode) -> None:
        thread = threading.Thread(target=self._run, name=f"pipeline-{execution.id[:8]}",
                                  args=(backend, pipeline, execution, index, retry_mode),
                                  daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    # --- one execution --------------------------------------------------------------------
    def _run(self, backend, pipeline, execution: Execution, index: int, retry_mode) -> None:
        notify = PipelineNotifier(self.runtime, backend.account_id, backend.region)
        notify.pipeline_state(pipeline, execution, "RESUMED" if retry_mode else "STARTED")
        try:
            stages = execution.declaration["stages"]
            for position in range(index, len(stages)):
                stage = stages[position]
                if not self._enter(pipeline, execution, stage["name"]):
                    self._finish(pipeline, execution, notify, self._quit_status(pipeline, execution))
                    return
                try:
                    status = self._run_stage(backend, pipeline, execution, stage, notify,
                                             retry_mode if position == index else None)
                finally:
                    self._leave(pipeline, execution, stage["name"])
                if status != "Succeeded":
                    self._finish(pipeline, execution, notify, "Stopped" if status == "Stopped"
                                 else "Failed", execution.summary)
                    return
                if execution.stop_mode or execution.superseded or pipeline.deleted:
                    self._finish(pipeline, execution, notify, self._quit_status(pipeline, execution))
                    return
            self._finish(pipeline, execution, notify, "Succeeded")
        except Exception:  # the engine must never leave an execution stuck InProgress
            log.exception("pipeline %s execution %s failed unexpectedly", pipeline.name, execution.id)
            self._finish(pipeline, execution, notify, "Failed",
                         "The emulator's pipeline engine hit an unexpected error; see its log.")

    def _quit_status(self, pipeline, execution) -> str:
        if execution.superseded:
            return "Superseded"
        return "Stopped"

    def _finish(self, pipeline, execution, notify, status: str, summary: str | None = None) -> None:
        with pipeline.cond:
            if execution.finished and execution.status == status:
                return
            execution.status = status
            if summary:
                execution.summary = summary
            execution.touch()
            pipeline.cond.notify_all()
        notify.pipeline_state(pipeline, execution, EVENT_STATE.get(status, status.upper()))
        notify.execution_metrics(execution)

    # --- stage locks ----------------------------------------------------------------------
    def _should_quit(self, pipeline, execution) -> bool:
        return (self.runtime.stopping.is_set() or pipeline.deleted or execution.superseded
                or execution.stop_mode is not None)

    def _enter(self, pipeline, execution: Execution, stage_name: str) -> bool:
        """Wait at the stage's inbound transition until the execution may enter it."""
        parallel = execution.mode == "PARALLEL"
        with pipeline.cond:
            queue = pipeline.waiting.setdefault(stage_name, [])
            if execution.mode == "SUPERSEDED":
                # A newer execution replaces an older one waiting at the same transition.
                for older_id in list(queue):
                    pipeline.execution(older_id).superseded = True
                    queue.remove(older_id)
            queue.append(execution.id)
            execution.waiting_at = stage_name
            pipeline.cond.notify_all()
            try:
                while True:
                    if self._should_quit(pipeline, execution):
                        return False
                    is_open = pipeline.transition(stage_name)["enabled"]
                    free = parallel or stage_name not in pipeline.stage_holder
                    first = parallel or queue[0] == execution.id
                    if is_open and free and first:
                        if not parallel:
                            pipeline.stage_holder[stage_name] = execution.id
                        return True
                    pipeline.cond.wait(WAIT_SLICE)
            finally:
                if execution.id in queue:
                    queue.remove(execution.id)
                execution.waiting_at = None
                pipeline.cond.notify_all()

    def _leave(self, pipeline, execution, stage_name: str) -> None:
        with pipeline.cond:
            if pipeline.stage_holder.get(stage_name) == execution.id:
                del pipeline.stage_holder[stage_name]
            pipeline.cond.notify_all()

    # --- a stage ---------------------------------------------------------------------------
    def _run_stage(self, backend, pipeline, execution, stage: dict, notify, retry_mode) -> str:
        name = stage["name"]
        with pipeline.cond:
            previous = execution.stages.get(name)
            run = StageRun(name, attempt=next(self._attempts))
            if retry_mode == "FAILED_ACTIONS" and previous:
                run.actions = {k: a for k, a in previous.actions.items() if a.status == "Succeeded"}
            execution.stages[name] = run
            execution.touch()
        notify.stage_state(pipeline, execution, name, "RESUMED" if retry_mode else "STARTED")
        for order in sorted({a["runOrder"] for a in stage["actions"]}):
            group = [a for a in stage["actions"]
                     if a["runOrder"] == order and a["name"] not in run.actions]
            threads = []
            for action in group:
                action_run = ActionRun(action["name"], action)
                with pipeline.cond:
                    run.actions[action["name"]] = action_run
                    execution.history.append((name, action_run))
                thread = threading.Thread(
                    target=self._run_action, daemon=True, name=f"action-{action['name']}",
                    args=(backend, pipeline, execution, name, action_run, notify))
                threads.append(thread)
                thread.start()
            for thread in threads:
                thread.join()
            if any(a.status != "Succeeded" for a in run.actions.values()) or execution.stop_mode:
                break
        statuses = {a.status for a in run.actions.values()}
        if execution.stop_mode or "Abandoned" in statuses:
            status = "Stopped" if "Failed" not in statuses else "Failed"
        elif "Failed" in statuses:
            status = "Failed"
        elif len(run.actions) < len(stage["actions"]):
            status = "Stopped"
        else:
            status = "Succeeded"
        with pipeline.cond:
            run.status = status
            failed = [a for a in run.actions.values() if a.status == "Failed"]
            if failed:
                execution.summary = (failed[0].error or {}).get("message")
            execution.touch()
        notify.stage_state(pipeline, execution, name, EVENT_STATE[status])
        return status

    # --- an action ---------------------------------------------------------------------------
    def _run_action(self, backend, pipeline, execution, stage_name: str, run: ActionRun,
                    notify) -> None:
        notify.action_state(pipeline, execution, stage_name, run, "STARTED")
        ctx = ActionContext(self, backend, pipeline, execution, stage_name, run)
        try:
            run.input_artifacts = [{"name": a["name"], "s3location": ctx.input_location(a["name"])}
                                   for a in run.declaration["inputArtifacts"]]
            ctx.configuration = resolve_configuration(run.declaration.get("configuration", {}),
                                                      execution.namespaces)
            run.resolved_configuration = ctx.configuration
            provider = providers.find(run.declaration["actionTypeId"])
            provider(ctx)
            run.finish("Succeeded")
        except ActionFailed as failure:
            run.finish("Failed", error={"code": failure.code, "message": failure.message})
        except UnresolvedVariable as problem:
            run.finish("Failed", error={"code": "JobFailed", "message": str(problem)})
        except ActionAbandoned:
            run.finish("Abandoned")
        except Exception as exc:
            log.exception("action %s of %s failed unexpectedly", run.name, pipeline.name)
            run.finish("Failed", error={"code": "JobFailed",
                                        "message": f"Internal error in the emulator: {exc}"})
        namespace = run.declaration.get("namespace")
        if namespace and run.status == "Succeeded":
            execution.namespaces[namespace] = dict(run.output_variables)
        with pipeline.cond:
            execution.touch()
            pipeline.cond.notify_all()
        notify.action_state(pipeline, execution, stage_name, run, EVENT_STATE[run.status])

    # --- stopping ----------------------------------------------------------------------------
    def stop(self, pipeline, execution: Execution, abandon: bool, reason: str | None) -> None:
        with pipeline.cond:
            execution.stop_mode = "abandon" if abandon else "finish"
            execution.stop_reason = reason
            execution.status = "Stopping"
            if abandon:
                for stage in execution.stages.values():
                    for run in stage.actions.values():
                        if run.status == "InProgress":
                            run.finish("Abandoned")
            execution.touch()
            pipeline.cond.notify_all()

    def join(self, timeout: float = 5.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)


def _resolve_pipeline_variables(declaration: dict, given: list[dict]) -> list[dict]:
    """V2 pipeline variables: the values given at start, else the declared defaults."""
    from labkit.emulator.codepipeline.exceptions import ValidationException

    declared = {v["name"]: v for v in declaration.get("variables", [])}
    values = {name: v.get("defaultValue") for name, v in declared.items()}
    for item in given:
        if item["name"] not in declared:
            raise ValidationException(
                f"Variable '{item['name']}' is not declared in the pipeline; declared variables: "
                f"{', '.join(declared) or 'none'}.")
        values[item["name"]] = item["value"]
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValidationException(
            f"Variables {', '.join(missing)} have no default value; give them a value when "
            "starting the execution.")
    return [{"name": name, "value": value} for name, value in values.items()]


__all__ = ["PipelineEngine", "now"]
