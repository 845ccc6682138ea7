"""What starts a pipeline besides StartPipelineExecution: EventBridge rules that target it, and
polling of sources whose PollForSourceChanges is true."""

from __future__ import annotations

import logging
import os
import subprocess
import threading

log = logging.getLogger("labkit.emulator.codepipeline")
# AWS polls about once a minute; the emulator polls sooner so lessons do not wait.
POLL_INTERVAL = float(os.environ.get("LABKIT_PIPELINE_POLL_INTERVAL", "5"))


class PipelineTriggers:
    def __init__(self, runtime, service):
        self.runtime = runtime
        self.service = service
        self._seen: dict[tuple[str, str], str] = {}  # (pipeline arn, action) -> last revision
        runtime.events.register("codepipeline", self.on_event)
        self._thread = threading.Thread(target=self._poll_forever, name="pipeline-poller",
                                        daemon=True)
        self._thread.start()

    # --- EventBridge -------------------------------------------------------------------
    def on_event(self, target: dict, payload, rule) -> None:
        """A rule matched and targets a pipeline ARN: start it, as the rule's role would."""
        from labkit.emulator.authorization import authorize

        _, _, _, region, account, name = target["Arn"].split(":", 5)
        backend = self.service.backends.get(account, region)
        pipeline = backend.pipelines.get(name)
        if pipeline is None:
            raise LookupError(f"pipeline {name} does not exist")
        if not target.get("RoleArn"):
            raise PermissionError("a target that starts a pipeline needs a RoleArn")
        # The rule acts as the target's role: it needs codepipeline:StartPipelineExecution.
        authorize(account, target["RoleArn"], "codepipeline:StartPipelineExecution",
                  pipeline.arn, session=rule.name[:64])
        self.service.engine.start(backend, pipeline, {"triggerType": "CloudWatchEvent",
                                                      "triggerDetail": rule.arn})

    # --- polling -------------------------------------------------------------------------
    def _poll_forever(self) -> None:
        while not self.runtime.stopping.wait(POLL_INTERVAL):
            try:
                self.poll_once()
            except Exception:
                log.exception("source polling failed")

    def poll_once(self) -> None:
        for backend in self.service.backends:
            for pipeline in list(backend.pipelines.values()):
                for action in pipeline.declaration["stages"][0]["actions"]:
                    self._check(backend, pipeline, action)

    def prime(self, backend, pipeline) -> None:
        """Remember the sources' current revisions, so only later changes start executions
        (the execution that creating the pipeline starts already covers these)."""
        for action in pipeline.declaration["stages"][0]["actions"]:
            revision = self._current_revision(backend, action)
            if revision is not None:
                self._seen[(pipeline.arn, action["name"])] = revision

    def _check(self, backend, pipeline, action: dict) -> None:
        config = action.get("configuration", {})
        if str(config.get("PollForSourceChanges", "true")).lower() != "true":
            return
        revision = self._current_revision(backend, action)
        if revision is None:
            return
        key = (pipeline.arn, action["name"])
        previous = self._seen.get(key)
        self._seen[key] = revision
        if previous is not None and previous != revision:
            self.service.engine.start(backend, pipeline, {"triggerType": "PollForSourceChanges",
                                                          "triggerDetail": action["name"]})

    def _current_revision(self, backend, action: dict) -> str | None:
        provider = action["actionTypeId"]["provider"]
        config = action.get("configuration", {})
        if provider == "CodeCommit":
            repo = self.runtime.state_dir / "git" / f"{config.get('RepositoryName')}.git"
            if not repo.is_dir():
                return None
            result = subprocess.run(
                ["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet",
                 f"refs/heads/{config.get('BranchName')}"], capture_output=True, text=True,
                timeout=30)
            return result.stdout.strip() or None
        if provider == "S3":
            from moto.s3.models import s3_backends

            try:
                key = s3_backends[backend.account_id]["aws"].get_object(
                    config.get("S3Bucket"), config.get("S3ObjectKey"))
            except Exception:
                return None
            return (key.version_id or key.etag) if key else None
        return None
