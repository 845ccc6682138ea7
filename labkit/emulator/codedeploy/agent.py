"""The per-host agent: runs one deployment's lifecycle on one local host, as the CodeDeploy agent does."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from labkit.emulator.codedeploy import permissions, revisions
from labkit.emulator.codedeploy.appspec import AppSpec, AppSpecError, Script, load_appspec
from labkit.emulator.codedeploy.hosts import Host, HostRegistry
from labkit.emulator.codedeploy.install import Installer, InstallError
from labkit.emulator.codedeploy.models import DeploymentJob
from labkit.emulator.codedeploy.records import Diagnostics, TargetRecord, now
from labkit.procs import end_process_tree, pid_alive

log = logging.getLogger("labkit.emulator.codedeploy.agent")

AGENT_ROOT = "opt/codedeploy-agent/deployment-root"
DEPLOYMENT_LOG = f"{AGENT_ROOT}/deployment-logs/codedeploy-agent-deployments.log"
LOG_GROUP = "codedeploy-deployment-logs"  # as the CloudWatch agent config in AWS's guide names it
LOG_TAIL_CHARS = 2048
ARCHIVES_KEPT = 5  # the agent keeps the last five revisions per deployment group
# Events that run scripts from the appspec (DownloadBundle and Install are the agent's own work).
SCRIPT_EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
                 "ValidateService")


class StepFailed(Exception):
    def __init__(self, diagnostics: Diagnostics):
        super().__init__(diagnostics.message)
        self.diagnostics = diagnostics


class HostAgent:
    def __init__(self, runtime, hosts: HostRegistry, host: Host, job: DeploymentJob,
                 target: TargetRecord, lock: threading.RLock):
        self.runtime, self.hosts, self.host, self.job = runtime, hosts, host, job
        self.target, self.lock = target, lock
        self.root = host.root
        self.agent_root = host.root / AGENT_ROOT
        self.instructions = self.agent_root / "deployment-instructions"
        self.archive = self.agent_root / job.group_id / job.deployment_id / "deployment-archive"
        self.current_event = ""

    # --- the lifecycle -------------------------------------------------------------------
    def run(self) -> bool:
        """Run every event in order; True when the host succeeded."""
        with self.host.lock:
            with self.lock:
                self.target.set_status("InProgress")
            try:
                ok = self._run_events()
            except Exception as exc:  # a bug must fail this host, never the worker thread
                log.exception("host %s: unexpected agent error", self.host.instance_id)
                self._fail_current(Diagnostics("UnknownError", "", f"labkit agent error: {exc}", ""))
                ok = False
            with self.lock:
                self.target.skip_pending()
                self.target.set_status("Succeeded" if ok else "Failed")
            return ok

    def _run_events(self) -> bool:
        self._note(f"Deployment {self.job.deployment_id} of {self.job.application_name} "
                   f"({self.job.group_name}) to {self.host.instance_id}")
        if self.host.listening() and not self.hosts.alive_pids(self.host):
            self._note(f"Warning: port {self.host.port} of this host is taken by a process "
                       "that labkit did not start on it; the service may fail to listen.")
        last_archive = self._last_successful_archive()
        appspec: AppSpec | None = None
        for name in ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install",
                     "AfterInstall", "ApplicationStart", "ValidateService"):
            if self.job.stop_requested.is_set() or self.runtime.stopping.is_set():
                self._note("The deployment was stopped; the remaining events are skipped.")
                return False
            if name == "ApplicationStop" and last_archive is None:
                continue  # skipped on the instance's first deployment (stays Pending → Skipped)
            self._start_event(name)
            try:
                if name == "ApplicationStop":
                    self._application_stop(last_archive)
                elif name == "DownloadBundle":
                    self._download_bundle()
                elif name == "Install":
                    self._install(appspec)
                else:
                    if appspec is None:
                        appspec = self._load_appspec()
                    self._run_hooks(name, appspec, self.archive)
            except StepFailed as failure:
                self._end_event(name, "Failed", failure.diagnostics)
                return False
            self._end_event(name, "Succeeded", Diagnostics())
        self._record_success()
        return True

    def _start_event(self, name: str) -> None:
        self.current_event = name
        self._note(f"LifecycleEvent - {name}")
        with self.lock:
            event = self.target.event(name)
            event.status, event.start = "InProgress", now()
            self.target.last_updated = event.start

    def _end_event(self, name: str, status: str, diagnostics: Diagnostics) -> None:
        with self.lock:
            event = self.target.event(name)
            event.status, event.end, event.diagnostics = status, now(), diagnostics
            self.target.last_updated = event.end

    def _fail_current(self, diagnostics: Diagnostics) -> None:
        with self.lock:
            for event in self.target.events:
                if event.status == "InProgress":
                    event.status, event.end, event.diagnostics = "Failed", now(), diagnostics

    # --- events ------------------------------------------------------------------------------
    def _application_stop(self, last_archive: Path) -> None:
        try:
            previous = load_appspec(last_archive)
        except AppSpecError as exc:
            if self.job.ignore_application_stop_failures:
                self._note(f"ApplicationStop skipped: {exc} (ignoreApplicationStopFailures)")
                return
            raise StepFailed(Diagnostics("UnknownError", "", str(exc), "")) from None
        try:
            self._run_hooks("ApplicationStop", previous, last_archive)
        except StepFailed:
            if not self.job.ignore_application_stop_failures:
                raise
            self._note("ApplicationStop failed; continuing because ignoreApplicationStopFailures is set.")

    def _download_bundle(self) -> None:
        # The agent reads the revision with the instance profile's credentials.
        denied = permissions.download_problem(self.job.account_id, self.job.region,
                                              self.host.instance_id, self.job.s3_location)
        if denied:
            raise StepFailed(Diagnostics("UnknownError", "", denied, ""))
        try:
            data = revisions.fetch_bundle(self.job.account_id, self.job.s3_location)
            shutil.rmtree(self.archive, ignore_errors=True)
            revisions.unpack(data, self.job.bundle_type, self.archive)
        except revisions.RevisionError as exc:
            raise StepFailed(Diagnostics("UnknownError", "", str(exc), "")) from None
        self._note(f"Downloaded s3://{self.job.s3_location['bucket']}/{self.job.s3_location['key']} "
                   f"({self.job.bundle_type}) to {self.archive}")

    def _load_appspec(self) -> AppSpec:
        try:
            return load_appspec(self.archive)
        except AppSpecError as exc:
            raise StepFailed(Diagnostics("UnknownError", "", str(exc), "")) from None

    def _install(self, appspec: AppSpec | None) -> None:
        appspec = appspec or self._load_appspec()
        behavior = appspec.file_exists_behavior or self.job.file_exists_behavior or "DISALLOW"
        installer = Installer(self.root, self.archive, behavior, self._note)
        try:
            self._remove_previous_files()
            installer.install(appspec)
        except InstallError as exc:
            raise StepFailed(Diagnostics("UnknownError", "", str(exc), "")) from None
        finally:
            # Even a failed Install lists what it copied, so the next deployment removes it.
            cleanup = self.instructions / f"{self.job.group_id}-cleanup"
            cleanup.parent.mkdir(parents=True, exist_ok=True)
            cleanup.write_text("".join(f"{p}\n" for p in installer.installed), encoding="utf-8")

    def _remove_previous_files(self) -> None:
        """AWS's cleanup list: what the last deployment of this group installed goes first."""
        cleanup = self.instructions / f"{self.job.group_id}-cleanup"
        if not cleanup.is_file():
            return
        entries = [line for line in cleanup.read_text(encoding="utf-8").splitlines() if line]
        for entry in reversed(entries):  # files before the folders that held them
            path = self.root / entry.lstrip("/")
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        cleanup.unlink()

    # --- scripts ------------------------------------------------------------------------------
    def _run_hooks(self, event: str, appspec: AppSpec, bundle: Path) -> None:
        for script in appspec.hooks.get(event, []):
            self._run_script(event, script, bundle)

    def _run_script(self, event: str, script: Script, bundle: Path) -> None:
        path = bundle / script.location
        self._note(f"Script - {script.location}")
        if not path.is_file():
            raise StepFailed(Diagnostics(
                "ScriptMissing", script.location,
                f"Script does not exist at specified location: {path}", ""))
        if not os.access(path, os.X_OK):
            raise StepFailed(Diagnostics(
                "ScriptNotExecutable", script.location,
                f"Script at specified location: {script.location} is not executable", ""))
        if script.runas:
            self._note(f"runas {script.runas} is not applied on labkit's local hosts; the script "
                       "runs as the emulator's user.")
        output: list[str] = []
        proc = self.runtime.processes.spawn(
            [str(path)], owner=f"{self.host.owner}:hook", cwd=bundle, env=self._env(event),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        readers = [threading.Thread(target=self._read, args=(stream, tag, output), daemon=True)
                   for stream, tag in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + script.timeout
        timed_out = not self._wait(proc, readers, deadline)
        # Whatever the hook left running (a service in the background) now belongs to the host.
        if timed_out or self.runtime.stopping.is_set():
            self._end_session(proc.pid)
        else:
            self.hosts.adopt_session(self.host, proc.pid)
        self.runtime.processes.forget(proc.pid)
        for reader in readers:
            reader.join(timeout=1)
        tail = _log_tail(output)
        if timed_out:
            raise StepFailed(Diagnostics(
                "ScriptTimedOut", script.location,
                f"Script at specified location: {script.location} failed to complete in "
                f"{script.timeout} seconds", tail))
        if proc.returncode != 0:
            user = script.runas or "root"
            raise StepFailed(Diagnostics(
                "ScriptFailed", script.location,
                f"Script at specified location: {script.location} run as user {user} failed "
                f"with exit code {proc.returncode}", tail))

    def _wait(self, proc: subprocess.Popen, readers: list[threading.Thread], deadline: float) -> bool:
        """Wait for the script and for its output to close (as the agent does); False on timeout."""
        while time.monotonic() < deadline:
            if self.runtime.stopping.is_set():
                return False
            if proc.poll() is not None and not any(r.is_alive() for r in readers):
                return True
            time.sleep(0.05)
        return False

    def _end_session(self, session_id: int) -> None:
        members = [session_id]
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid != session_id and os.getsid(proc.pid) == session_id:
                    members.append(proc.pid)
            except (psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                continue
        for pid in members:
            if pid_alive(pid):
                end_process_tree(pid, grace=2.0)

    def _read(self, stream, tag: str, output: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            output.append(f"[{tag}]{line}")
            self._note(f"[{tag}]{line}")
            self._script_log(f"[{tag}]{line}")
        stream.close()

    def _script_log(self, text: str) -> None:
        """The deployment's own scripts.log, beside its archive, as the agent keeps it."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        path = self.archive.parent / "logs" / "scripts.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {self.current_event} {text}\n")

    def _env(self, event: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")}
        base.update({
            "HOME": str(self.root / "root"),
            "LIFECYCLE_EVENT": event,
            "DEPLOYMENT_ID": self.job.deployment_id,
            "APPLICATION_NAME": self.job.application_name,
            "DEPLOYMENT_GROUP_NAME": self.job.group_name,
            "DEPLOYMENT_GROUP_ID": self.job.group_id,
            "LABKIT_HOST_ROOT": str(self.root),
            "PORT": str(self.host.port),
        })
        (self.root / "root").mkdir(exist_ok=True)
        return base

    # --- records on the host ---------------------------------------------------------------
    def _last_successful_archive(self) -> Path | None:
        marker = self.instructions / f"{self.job.group_id}_last_successful_install"
        if not marker.is_file():
            return None
        path = Path(marker.read_text(encoding="utf-8").strip())
        return path if path.is_dir() else None

    def _record_success(self) -> None:
        self.instructions.mkdir(parents=True, exist_ok=True)
        marker = self.instructions / f"{self.job.group_id}_last_successful_install"
        marker.write_text(f"{self.archive}\n", encoding="utf-8")
        group_dir = self.agent_root / self.job.group_id
        archives = sorted((d for d in group_dir.iterdir() if d.is_dir()),
                          key=lambda d: d.stat().st_mtime)
        for old in archives[:-ARCHIVES_KEPT]:
            shutil.rmtree(old, ignore_errors=True)

    def _note(self, text: str) -> None:
        """One line of the host's deployment log, also sent to CloudWatch Logs."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        line = f"[{stamp}] [{self.job.deployment_id}]{text}"
        path = self.root / DEPLOYMENT_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
        _send_to_cloudwatch(self.job.account_id, self.job.region, self.host.instance_id, line)


def _log_tail(output: list[str]) -> str:
    text = "\n".join(output[-40:])
    return text[-LOG_TAIL_CHARS:]


def _send_to_cloudwatch(account_id: str, region: str, instance_id: str, message: str) -> None:
    from moto.logs.models import logs_backends

    try:
        backend = logs_backends[account_id][region]
        if LOG_GROUP not in backend.groups:
            backend.create_log_group(LOG_GROUP, {})
        if instance_id not in backend.groups[LOG_GROUP].streams:
            backend.create_log_stream(LOG_GROUP, instance_id)
        backend.put_log_events(LOG_GROUP, instance_id,
                               [{"timestamp": int(time.time() * 1000), "message": message}])
    except Exception:  # logs are a copy for learners; a logging hiccup must not fail a deployment
        log.debug("could not send a deployment log line to CloudWatch Logs", exc_info=True)
