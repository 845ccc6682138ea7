"""The phase engine: runs one build on this machine, phase by phase, with CodeBuild's semantics.

A build runs in its own worker thread, in its own work dir `<state>/codebuild/<project>/<uuid>/`
(src/ is CODEBUILD_SRC_DIR, home/ is HOME, session/ holds the shell's files). The phases go
SUBMITTED → QUEUED → PROVISIONING → DOWNLOAD_SOURCE → INSTALL → PRE_BUILD → BUILD → POST_BUILD →
UPLOAD_ARTIFACTS → FINALIZING → COMPLETED. A failed INSTALL or PRE_BUILD skips the later command
phases; a failed BUILD still runs POST_BUILD with CODEBUILD_BUILD_SUCCEEDING=0; UPLOAD_ARTIFACTS is
always attempted once the commands started; a timeout, a stop or a QUEUED / PROVISIONING /
DOWNLOAD_SOURCE failure goes straight to FINALIZING. Every process the build starts is ended when
it finishes. QUEUED waits for one of a bounded number of build slots (workspace.py).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from labkit.emulator.codebuild import aws_actions, environment, images, sources
from labkit.emulator.codebuild.aws_actions import ActionError
from labkit.emulator.codebuild.buildlog import BuildLog, log_location
from labkit.emulator.codebuild.buildspec import (
    BuildSpec,
    BuildspecError,
    PhaseSpec,
    parse_buildspec,
)
from labkit.emulator.codebuild.cache import BuildCache
from labkit.emulator.codebuild.events import BuildNotifier
from labkit.emulator.codebuild.models import Build, CodeBuildBackend, utcnow
from labkit.emulator.codebuild.shell import ShellSession
from labkit.emulator.codebuild.uploads import Uploader, UploadFailed
from labkit.emulator.codebuild.workspace import build_slots, end_process_groups, prune

log = logging.getLogger("labkit.emulator.codebuild")

COMMAND_PHASES = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")
# Emulator-only knob: a build timeout in seconds (AWS's minimum is 5 minutes, too long for a lesson).
TIMEOUT_SECONDS_VARIABLE = "LABKIT_BUILD_TIMEOUT_SECONDS"


@dataclass
class PipelineContext:
    """What CodePipeline hands a build: input artifacts to unzip, output artifacts to write."""

    pipeline_name: str
    # [{"name", "bucket", "key", "revision"?}]; the first (or primary_source) is CODEBUILD_SRC_DIR
    inputs: list[dict]
    # [{"name", "bucket", "key"}]; the first gets the primary artifact, others match by name
    outputs: list[dict] = field(default_factory=list)
    primary_source: str | None = None


class Interrupted(Exception):
    """The build was stopped or timed out; `status` is STOPPED or TIMED_OUT."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


class PhaseFailed(Exception):
    def __init__(self, status_code: str, message: str, status: str = "FAILED"):
        super().__init__(message)
        self.status_code, self.message, self.status = status_code, message, status


class BuildRunner:
    def __init__(
        self,
        runtime,
        backend: CodeBuildBackend,
        build: Build,
        variables_override: list[dict],
        buildspec_override: str | None,
        pipeline: PipelineContext | None = None,
    ):
        self.runtime = runtime
        self.backend = backend
        self.build = build
        self.project = build.project
        self.variables_override = variables_override
        self.buildspec_override = buildspec_override
        self.pipeline = pipeline
        self.owner = f"codebuild:{build.id}"
        self.work_dir = runtime.dir("codebuild") / build.project_name / build.uuid
        self.src_dir = self.work_dir / "src"
        self.build.work_dir = str(self.work_dir)
        self.spec: BuildSpec | None = None
        self.session: ShellSession | None = None
        self.env: dict[str, str] = {}
        self.failed = False  # a phase has failed: CODEBUILD_BUILD_SUCCEEDING=0 from now on
        self.spawned_pids: list[int] = []
        self.secondary_dirs: dict[str, str] = {}  # CODEBUILD_SRC_DIR_<name> of pipeline inputs
        self.started = time.monotonic()
        self.has_slot = False
        self.running_since = self.started
        self.deadline = self.started + build.project["timeoutInMinutes"] * 60
        # Every AWS action the build takes is done as its service role (aws_actions.Identity).
        self.identity = aws_actions.Identity.for_build(
            backend.account_id, backend.region, self.project["serviceRole"], build.uuid
        )
        self.log = BuildLog(
            self.identity, *log_location(self.project, build, backend.region, backend.account_id)
        )
        self.notify = BuildNotifier(runtime, backend, build)
        self.thread = threading.Thread(target=self.run, name=f"codebuild-{build.uuid}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # --- the whole build -----------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run_phases()
        except Exception:  # a bug in the engine: the build FAULTs, the emulator lives on
            log.error(
                "build %s failed inside the emulator\n%s", self.build.id, traceback.format_exc()
            )
            try:
                self._fault()
            except Exception:  # even finishing failed: at least never leave it IN_PROGRESS
                log.error("could not finish build %s\n%s", self.build.id, traceback.format_exc())
                with self.backend.lock:
                    self.build.status, self.build.complete = "FAULT", True
                    self.build.end_time = utcnow()
        finally:
            if self.has_slot:
                self.has_slot = False
                build_slots.release()

    def _fault(self) -> None:
        self.log.container("labkit: the emulator hit an internal error; see .labkit/emulator.log")
        with self.backend.lock:
            open_phase = self.build.phases[-1] if self.build.phases else None
        if open_phase and "endTime" not in open_phase and open_phase["phaseType"] != "COMPLETED":
            self._end_phase("FAULT", "CLIENT_ERROR", "internal error in labkit's emulator")
        self._finish()

    def _run_phases(self) -> None:
        access_problem = aws_actions.check_assumable(self.identity)
        problem = None if access_problem else self.log.open()
        if self.log.denied is not None:
            access_problem = (
                f"Service role {self.identity.role_arn} does not allow AWS CodeBuild to create "
                f"Amazon CloudWatch Logs log streams for build {self.build.arn}. "
                f"Error message: {self.log.denied.message}"
            )
        elif problem:
            log.warning("build %s has no CloudWatch log: %s", self.build.id, problem)
        self.notify.state_change()
        self.log.container("Running on CodeBuild On-demand")
        self.log.line(
            f"[labkit] This build runs on this machine, not in the {self.project['environment']['image']} "
            f"container: commands run under {self.work_dir} with the host's tools."
        )
        self._instant_phase("SUBMITTED")
        try:
            self._phase("QUEUED", lambda: self._queue(access_problem))
            self._phase("PROVISIONING", self._provision)
            self._phase("DOWNLOAD_SOURCE", self._download_source)
        except (PhaseFailed, Interrupted):
            self._finish()
            return
        try:
            self._command_phases()
        except Interrupted:
            self._finish()
            return
        try:
            self._phase("UPLOAD_ARTIFACTS", self._upload_artifacts)
        except (PhaseFailed, Interrupted):
            pass
        self._finish()

    def _command_phases(self) -> None:
        skip_rest = False
        for phase_type in COMMAND_PHASES:
            if skip_rest:
                continue
            phase = self.spec.phase(phase_type.lower())
            try:
                self._phase(phase_type, lambda p=phase: self._run_commands(p))
            except PhaseFailed:
                if phase.on_failure == "CONTINUE":
                    continue
                # INSTALL and PRE_BUILD failures end the commands; BUILD's still lets POST_BUILD run.
                skip_rest = phase_type in ("INSTALL", "PRE_BUILD")

    def _finish(self) -> None:
        """FINALIZING and COMPLETED: end processes, record the outcome, tell the world."""
        self._begin_phase("FINALIZING")
        self._end_session()
        if self.has_slot:
            self.has_slot = False
            build_slots.release()
        self._end_phase("SUCCEEDED", quiet=True)
        status = next(
            (
                p["phaseStatus"]
                for p in self.build.phases
                if p.get("phaseStatus") not in (None, "SUCCEEDED")
            ),
            "SUCCEEDED",
        )
        with self.backend.lock:
            now = utcnow()
            self.build.phases.append({"phaseType": "COMPLETED", "startTime": now})
            self.build.current_phase = "COMPLETED"
            self.build.status = status
            self.build.end_time = now
        # Log, event and metrics are all out before anyone can see buildComplete.
        self.log.flush()
        self.notify.state_change(final=True)
        self.notify.metrics()
        with self.backend.lock:
            self.build.complete = True
        prune(self.work_dir)

    # --- phases ----------------------------------------------------------------------------
    def _instant_phase(self, phase_type: str) -> None:
        self._begin_phase(phase_type)
        self._end_phase("SUCCEEDED", quiet=True)

    def _phase(self, phase_type: str, body) -> None:
        self._begin_phase(phase_type)
        try:
            # Checked inside the phase: a stop that lands between two phases must still end the
            # build STOPPED (the phase it reached records it), not leave every phase SUCCEEDED.
            self._check_interrupt()
            body()
        except Interrupted as stop:
            context = (
                ("BUILD_TIMED_OUT", "Build has timed out. ")
                if stop.status == "TIMED_OUT"
                else ("", "")
            )
            self._end_phase(stop.status, *context)
            raise
        except PhaseFailed as failure:
            self._mark_failed()
            self._end_phase(failure.status, failure.status_code, failure.message)
            raise
        self._end_phase("SUCCEEDED", quiet=phase_type in ("QUEUED", "PROVISIONING"))

    def _begin_phase(self, phase_type: str) -> None:
        with self.backend.lock:
            self.build.phases.append({"phaseType": phase_type, "startTime": utcnow()})
            self.build.current_phase = phase_type
        # The container's log starts at DOWNLOAD_SOURCE and ends with UPLOAD_ARTIFACTS, as on AWS.
        if phase_type in COMMAND_PHASES or phase_type == "UPLOAD_ARTIFACTS":
            self.log.container(f"Entering phase {phase_type}")
        elif phase_type == "DOWNLOAD_SOURCE":
            self.log.container("Waiting for agent ping")
            self.log.container("Waiting for DOWNLOAD_SOURCE")
            self.log.container("Phase is DOWNLOAD_SOURCE")

    def _end_phase(
        self, status: str, status_code: str = "", message: str = "", quiet: bool = False
    ) -> None:
        with self.backend.lock:
            record = self.build.phases[-1]
            record["endTime"] = utcnow()
            record["durationInSeconds"] = int(
                (record["endTime"] - record["startTime"]).total_seconds()
            )
            record["phaseStatus"] = status
            if record["phaseType"] != "SUBMITTED":
                record["contexts"] = [{"statusCode": status_code, "message": message}]
        if not quiet:
            self.log.container(f"Phase complete: {record['phaseType']} State: {status}")
            self.log.container(f"Phase context status code: {status_code} Message: {message}")
        self.log.flush()
        self.notify.phase_change(record)

    def _check_interrupt(self) -> None:
        if self.build.stop_requested or self.runtime.stopping.is_set():
            raise Interrupted("STOPPED")
        if time.monotonic() >= self.deadline:
            raise Interrupted("TIMED_OUT")

    def _mark_failed(self) -> None:
        self.failed = True
        self.env["CODEBUILD_BUILD_SUCCEEDING"] = "0"
        if self.session is not None:
            self.session.set_variable("CODEBUILD_BUILD_SUCCEEDING", "0")

    # --- PROVISIONING ----------------------------------------------------------------------
    def _queue(self, access_problem: str | None) -> None:
        """As on AWS, a role CodeBuild cannot use (or that may not log) fails the build in QUEUED."""
        if access_problem:
            raise PhaseFailed("ACCESS_DENIED", access_problem)
        self._wait_for_a_slot()

    def _wait_for_a_slot(self) -> None:
        """QUEUED lasts until fewer than MAX_RUNNING_BUILDS builds run (or the queued timeout)."""
        queued_deadline = self.started + self.project["queuedTimeoutInMinutes"] * 60
        while not build_slots.acquire(timeout=0.1):
            if self._should_stop():
                raise Interrupted("STOPPED")
            if time.monotonic() >= queued_deadline:
                raise Interrupted("TIMED_OUT")
        self.has_slot = True
        # The build's own timeout counts from the end of the queue, as on AWS.
        self.running_since = time.monotonic()
        self.deadline = self.running_since + self.project["timeoutInMinutes"] * 60

    def _provision(self) -> None:
        for sub in ("src", "home", "tmp", "session"):
            (self.work_dir / sub).mkdir(parents=True, exist_ok=True)

    # --- DOWNLOAD_SOURCE -------------------------------------------------------------------
    def _download_source(self) -> None:
        source = self.project["source"]
        self.log.container(f"CODEBUILD_SRC_DIR={self.src_dir}")
        try:
            self.build.resolved_source_version = self._fetch_source(source)
        except sources.SourceError as exc:
            raise PhaseFailed("CLIENT_ERROR", str(exc)) from None
        self.spec = self._load_buildspec(source)
        for request in self.spec.run_as:
            self.log.line(f"[labkit] {request} is ignored: commands run as the emulator's user.")
        self._resolve_variables()
        for runtime_name, version in self.spec.phase("install").runtime_versions.items():
            self.log.container(
                f"Selecting '{runtime_name}' runtime version '{version}' based on manual selections..."
            )
            problem = images.check_runtime(
                self.project["environment"]["image"], runtime_name, version
            )
            if problem:
                raise PhaseFailed("YAML_FILE_ERROR", problem)
        self.cache = BuildCache(
            self.project.get("cache") or {},
            identity=self.identity,
            project=self.build.project_name,
            local_dir=self.runtime.dir("codebuild") / self.build.project_name / "_cache",
        )
        self.log.container(f"Moving to directory {self.src_dir}")
        if not (self.cache.enabled and self.spec.cache_paths):
            self.log.container("Cache is not defined in the buildspec")
        else:
            try:
                self.log.container(self.cache.restore(self.src_dir))
            except Exception as exc:  # a damaged cache must not fail the build; AWS ignores it too
                self.log.container(f"Unable to restore cache: {exc}")
        self.log.container("Registering with agent")
        self.log.container(f"Phases found in YAML: {len(self.spec.phases)}")
        for name, phase in self.spec.phases.items():
            self.log.container(f" {name.upper()}: {len(phase.commands)} commands")

    def _resolve_variables(self) -> None:
        """Variables in DOWNLOAD_SOURCE, as CodeBuild does: buildspec < project < StartBuild."""
        self.log.container("Processing environment variables")
        listed = [
            *environment.buildspec_variables(self.spec),
            *self.project["environment"].get("environmentVariables", []),
            *self.variables_override,
        ]
        if any(v.get("type") == "PARAMETER_STORE" for v in listed):
            self.log.container("Decrypting parameter store environment variables")
        try:
            resolved = environment.resolve(self.identity, listed)
        except environment.VariableError as exc:
            raise PhaseFailed(exc.status_code, exc.message) from None
        self.log.add_secrets(resolved.secrets)
        self.env = self._base_env()
        self.env.update(resolved.values)
        self.env.update(self._codebuild_variables())
        if TIMEOUT_SECONDS_VARIABLE in resolved.values:
            try:
                seconds = float(resolved.values[TIMEOUT_SECONDS_VARIABLE])
            except ValueError:
                return
            self.deadline = self.running_since + seconds
            self.log.line(
                f"[labkit] {TIMEOUT_SECONDS_VARIABLE}={seconds:g}: this build times out "
                f"after {seconds:g} seconds instead of {self.project['timeoutInMinutes']} minutes."
            )

    def _fetch_source(self, source: dict) -> str | None:
        """The primary source into CODEBUILD_SRC_DIR, each secondary one into its own folder."""
        resolved = self._fetch_one(source, self.src_dir, self.build.source_version)
        versions = {
            v["sourceIdentifier"]: v["sourceVersion"]
            for v in self.project.get("secondarySourceVersions", [])
        }
        for extra in self.project.get("secondarySources", []):
            identifier = extra["sourceIdentifier"]
            dest = self.work_dir / f"src_{identifier}"
            self._fetch_one(extra, dest, versions.get(identifier))
            self.secondary_dirs[f"CODEBUILD_SRC_DIR_{identifier}"] = str(dest)
            self.log.container(f"CODEBUILD_SRC_DIR_{identifier}={dest}")
        return resolved

    def _fetch_one(self, source: dict, dest: Path, version: str | None) -> str | None:
        kind = source["type"]
        if kind == "NO_SOURCE":
            return None
        if kind == "CODECOMMIT":
            shutil.rmtree(dest, ignore_errors=True)
            return sources.download_codecommit(
                self.identity, self.runtime.state_dir, source["location"], version, dest
            )
        if kind == "S3":
            return sources.download_s3_zip(self.identity, source["location"], version, dest)
        if kind == "CODEPIPELINE" and dest == self.src_dir:
            return self._fetch_pipeline_inputs()
        raise sources.SourceError(f"source type {kind} is not supported by labkit's emulator")

    def _fetch_pipeline_inputs(self) -> str | None:
        if self.pipeline is None or not self.pipeline.inputs:
            raise sources.SourceError(
                "CODEPIPELINE source: this build was not started by a pipeline"
            )
        primary = next(
            (i for i in self.pipeline.inputs if i["name"] == self.pipeline.primary_source),
            self.pipeline.inputs[0],
        )
        for item in self.pipeline.inputs:
            dest = self.src_dir if item is primary else self.work_dir / f"src_{item['name']}"
            try:
                sources.unzip(
                    aws_actions.get_object(self.identity, item["bucket"], item["key"]),
                    dest,
                )
            except ActionError as exc:
                raise sources.SourceError(f"{exc.code}: {exc.message}") from None
            if item is not primary:
                self.secondary_dirs[f"CODEBUILD_SRC_DIR_{item['name']}"] = str(dest)
        return primary.get("revision")

    def _load_buildspec(self, source: dict) -> BuildSpec:
        text_or_path = (
            self.buildspec_override or source.get("buildspec") or ""
        ).strip() or "buildspec.yml"
        if text_or_path.startswith("arn:aws:s3:::"):
            # A buildspec kept in S3 (arn:aws:s3:::bucket/key), as CodeBuild allows.
            bucket, _, key = text_or_path.removeprefix("arn:aws:s3:::").partition("/")
            self.log.container(f"YAML location is {text_or_path}")
            try:
                text = aws_actions.get_object(self.identity, bucket, key).decode(
                    "utf-8", "replace"
                )
            except ActionError as exc:
                raise PhaseFailed("YAML_FILE_ERROR", f"{exc.code}: {exc.message}") from None
        elif (
            "\n" in text_or_path
            or text_or_path.startswith("{")
            or re.match(r"^\s*version\s*:", text_or_path)
        ):
            text = text_or_path
            # CodeBuild keeps an inline buildspec in a read-only folder of the container.
            inline = self.work_dir / "readonly" / "buildspec.yml"
            inline.parent.mkdir(parents=True, exist_ok=True)
            inline.write_text(text, encoding="utf-8")
            self.log.container(f"YAML location is {inline}")
        else:
            path = self.src_dir / text_or_path
            self.log.container(f"YAML location is {path}")
            if not path.is_file():
                raise PhaseFailed("YAML_FILE_ERROR", f"stat {path}: no such file or directory")
            text = path.read_text(encoding="utf-8", errors="replace")
        try:
            return parse_buildspec(text)
        except BuildspecError as exc:
            raise PhaseFailed("YAML_FILE_ERROR", str(exc)) from None

    def _base_env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        return {
            "PATH": f"{venv_bin}:{path}" if venv_bin not in path.split(":") else path,
            "HOME": str(self.work_dir / "home"),
            "TMPDIR": str(self.work_dir / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "USER": "root",
            "SHELL": "/bin/bash",
            # AWS CLI and SDK calls from build commands reach the emulator, in the same account.
            "AWS_ENDPOINT_URL": self.runtime.url,
            "AWS_ACCESS_KEY_ID": "labkit-codebuild",
            "AWS_SECRET_ACCESS_KEY": "labkit-codebuild",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CI": "true",
        }

    def _codebuild_variables(self) -> dict[str, str]:
        build, project = self.build, self.project
        region = self.backend.region
        values = {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "CODEBUILD_BUILD_ARN": build.arn,
            "CODEBUILD_BUILD_ID": build.id,
            "CODEBUILD_BUILD_NUMBER": str(build.build_number),
            "CODEBUILD_BUILD_IMAGE": project["environment"]["image"],
            "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_INITIATOR": build.initiator,
            "CODEBUILD_LOG_PATH": build.uuid,
            "CODEBUILD_PROJECT_ARN": project["arn"],
            "CODEBUILD_SOURCE_REPO_URL": project["source"].get("location", ""),
            "CODEBUILD_SOURCE_VERSION": build.source_version or _default_source_version(project),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": build.resolved_source_version or "",
            "CODEBUILD_SRC_DIR": str(self.src_dir),
            "CODEBUILD_START_TIME": str(int(build.start_time.timestamp() * 1000)),
            "CODEBUILD_KMS_KEY_ID": project.get("encryptionKey", ""),
            "CODEBUILD_CI": "true",
        }
        values.update(self.secondary_dirs)
        return values

    # --- INSTALL .. POST_BUILD -------------------------------------------------------------
    def _run_commands(self, phase: PhaseSpec) -> None:
        if phase.name == "install":
            self._select_runtimes(phase.runtime_versions)
        retries, pattern = _retry_rule(phase.on_failure)
        attempt = 0
        while True:
            failure = self._run_list(phase.commands, stop_at_failure=True)
            final_failure = self._run_list(phase.finally_commands, stop_at_failure=False)
            failure = failure or final_failure
            if failure is None:
                return
            message = (
                f"Error while executing command: {failure[0]}. Reason: exit status {failure[1]}"
            )
            if attempt < retries and (pattern is None or re.search(pattern, message)):
                attempt += 1
                self.log.container(
                    f"Phase {phase.name.upper()} failed; retrying ({attempt} of {retries})"
                )
                continue
            raise PhaseFailed("COMMAND_EXECUTION_ERROR", message)

    def _run_list(self, commands: list[str], stop_at_failure: bool) -> tuple[str, int] | None:
        first_failure = None
        for command in commands:
            self.log.container(f"Running command {command}")
            outcome = self._shell().run(command, self.deadline, self._should_stop, self.log.flush)
            if outcome.interrupted:
                raise Interrupted("TIMED_OUT" if outcome.interrupted == "timeout" else "STOPPED")
            if self.spec.version == "0.1":
                self._end_session()  # buildspec 0.1: every command in a new shell
            if outcome.status != 0:
                self.log.container(
                    f"Command did not exit successfully {command} exit status {outcome.status}"
                )
                first_failure = first_failure or (command, outcome.status)
                if stop_at_failure:
                    break
        return first_failure

    def _select_runtimes(self, runtime_versions: dict[str, str]) -> None:
        for runtime_name, version in runtime_versions.items():
            host = images.host_version(runtime_name)
            if host is None:
                self.log.line(
                    f"[labkit] warning: {runtime_name} {version} is not installed on this machine; "
                    f"commands that need it will fail."
                )
            elif not images.host_satisfies(version, host):
                self.log.line(
                    f"[labkit] warning: the image offers {runtime_name} {version} but this machine "
                    f"has {host}; the build uses the host's {runtime_name} {host}."
                )
            else:
                self.log.line(
                    f"[labkit] {runtime_name} {version}: this machine's {runtime_name} {host}"
                )

    def _shell(self) -> ShellSession:
        if self.session is None:

            def spawn(args, **kwargs):
                proc = self.runtime.processes.spawn(args, owner=self.owner, **kwargs)
                self.spawned_pids.append(proc.pid)
                return proc

            self.session = ShellSession(
                spawn=spawn,
                shell=self.spec.shell,
                cwd=self.src_dir,
                env=dict(self.env),
                session_dir=self.work_dir / "session",
                on_output=self.log.line,
            )
        return self.session

    def _should_stop(self) -> bool:
        return self.build.stop_requested or self.runtime.stopping.is_set()

    def _end_session(self) -> None:
        """End the shell and every process the build started (background ones included), by pid."""
        session, self.session = self.session, None
        if session is not None:
            self._capture_exports(session)
            end_process_groups(list(self.spawned_pids), session.close)
        self.runtime.processes.end(self.owner, grace=1.0)

    def _capture_exports(self, session: ShellSession) -> None:
        if not self.spec or not self.spec.exported_variables:
            return
        values = session.exported()
        exported = [{"name": n, "value": values.get(n, "")} for n in self.spec.exported_variables]
        with self.backend.lock:
            self.build.exported_variables = exported

    # --- UPLOAD_ARTIFACTS ------------------------------------------------------------------
    def _upload_artifacts(self) -> None:
        if self.session is not None:
            self._capture_exports(self.session)
            # Artifact names see what the commands exported (e.g. name: app-$APP_VERSION.zip).
            self.env = {**self.env, **self.session.exported()}
        try:
            Uploader(self).run()
        except UploadFailed as exc:
            raise PhaseFailed(exc.status_code, exc.message) from None


def _default_source_version(project: dict) -> str:
    """What CodeBuild puts in CODEBUILD_SOURCE_VERSION when no version was asked for."""
    source = project["source"]
    if source["type"] == "S3":
        return f"arn:aws:s3:::{source['location']}"
    return ""


def _retry_rule(on_failure: str) -> tuple[int, str | None]:
    """RETRY, RETRY-<n>, RETRY-<regex>, RETRY-<n>-<regex> → (retries, regex); others (0, None)."""
    if not on_failure.startswith("RETRY"):
        return 0, None
    rest = on_failure[len("RETRY") :].lstrip("-")
    match = re.match(r"^(\d+)(?:-(.+))?$", rest)
    if match:
        return int(match.group(1)), match.group(2)
    return 3, rest or None
