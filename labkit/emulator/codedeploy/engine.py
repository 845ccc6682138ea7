"""Runs deployments: targets from tags and Auto Scaling groups, batches by config, alarms, rollback."""

from __future__ import annotations

import logging
import threading
import time

from labkit.emulator.codedeploy import bluegreen, permissions, traffic
from labkit.emulator.codedeploy.hosts import Host
from labkit.emulator.codedeploy.models import (
    HEALTH_CONSTRAINTS_MESSAGE,
    ONE_AT_A_TIME,
    CodeDeployBackend,
    Deployment,
)
from labkit.emulator.codedeploy.records import Diagnostics, now

log = logging.getLogger("labkit.emulator.codedeploy.engine")

NO_INSTANCES_MESSAGE = (
    "The deployment failed because no instances were found for your deployment group. Check "
    "your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto "
    "Scaling groups correctly identify the instances you want to deploy to, and then try again.")
ALARM_POLL_SECONDS = 1.0


def matching_instance_ids(account_id: str, region: str, settings: dict) -> list[str]:
    """Running instances the group (or a deployment's targetInstances) selects, sorted by id."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    tag_filters = settings.get("ec2TagFilters") or settings.get("tagFilters") or []
    tag_set = (settings.get("ec2TagSet") or {}).get("ec2TagSetList") or []
    chosen: set[str] = set()
    for instance in backend.all_instances():
        if instance.state not in ("pending", "running"):
            continue
        tags = backend.tags.get(instance.id, {})
        if tag_filters and any(_tag_matches(f, tags) for f in tag_filters):
            chosen.add(instance.id)
        if tag_set and all(any(_tag_matches(f, tags) for f in group) for group in tag_set):
            chosen.add(instance.id)
    chosen |= _auto_scaling_instances(account_id, region, settings.get("autoScalingGroups") or [])
    return sorted(chosen)


def _tag_matches(tag_filter: dict, tags: dict) -> bool:
    kind = tag_filter.get("Type") or "KEY_AND_VALUE"
    key, value = tag_filter.get("Key"), tag_filter.get("Value")
    if kind == "KEY_ONLY":
        return key in tags
    if kind == "VALUE_ONLY":
        return value in tags.values()
    return tags.get(key) == value


def _auto_scaling_instances(account_id: str, region: str, names: list) -> set[str]:
    if not names:
        return set()
    from moto.autoscaling.models import autoscaling_backends

    backend = autoscaling_backends[account_id][region]
    found = set()
    for name in names:
        name = name["name"] if isinstance(name, dict) else name
        group = backend.autoscaling_groups.get(name)
        for state in getattr(group, "instance_states", []) or []:
            if state.instance.state in ("pending", "running"):
                found.add(state.instance.id)
    return found


class DeploymentEngine:
    """One worker thread per deployment; hosts of a batch run in parallel."""

    def __init__(self, service):
        self.service = service
        self.runtime = service.runtime
        self.hosts = service.hosts

    def start(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        thread = threading.Thread(target=self._run, args=(backend, deployment),
                                  name=f"codedeploy-{deployment.deployment_id}", daemon=True)
        thread.start()

    def _run(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        try:
            self._deploy(backend, deployment)
        except Exception as exc:  # never leave a deployment InProgress forever
            log.exception("deployment %s failed unexpectedly", deployment.deployment_id)
            self._finish(backend, deployment, "Failed",
                         {"code": "INTERNAL_ERROR", "message": f"labkit emulator error: {exc}"})

    def _deploy(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        with backend.lock:
            deployment.status, deployment.start_time = "InProgress", now()
            deployment.group.last_attempted = deployment.last_info()
        self.service.send_deployment_event(backend, deployment, "START")
        denied = permissions.service_role_error(backend.account_id, backend.region,
                                                deployment.group.settings)
        if denied:  # the group's role cannot find the targets: nothing is deployed
            with backend.lock:
                deployment.targets.clear()
            self._finish(backend, deployment, "Failed", denied)
            return
        if deployment.blue_green is not None:  # watches its alarms itself, between its steps
            bluegreen.BlueGreenRun(self, backend, deployment).run()
            return
        self.watch_alarms(backend, deployment)
        if not deployment.targets:
            self._finish(backend, deployment, "Failed",
                         {"code": "NO_INSTANCES", "message": NO_INSTANCES_MESSAGE})
            return
        config = backend.configs.get(deployment.config_name)
        order = sorted(deployment.targets)
        total = len(order)
        batch_size, minimum = config.plan(total)
        if batch_size <= 0:
            self._skip_pending(backend, deployment)
            self._finish(backend, deployment, "Failed", {
                "code": "HEALTH_CONSTRAINTS_INVALID",
                "message": f"The deployment failed because the deployment configuration "
                           f"{config.name} requires at least {minimum} healthy instance(s), and the "
                           f"deployment has {total}: no instance can be taken offline to deploy. "
                           "Use a configuration that needs fewer healthy instances, or add instances."})
            return
        pending = list(order)
        succeeded = failed = 0
        while pending:
            alarm = self._active_alarm(backend, deployment)
            if alarm:
                self._stop_on_alarm(backend, deployment, alarm)
                return
            if deployment.job.stop_requested.is_set():
                return  # StopDeployment finishes the record
            healthy_now = total - failed
            size = min(batch_size, len(pending), max(healthy_now - minimum, 0))
            if config.name == ONE_AT_A_TIME:
                size = 1
            if size <= 0:
                break
            batch, pending = pending[:size], pending[size:]
            results = self._run_batch(backend, deployment, batch)
            succeeded += sum(results)
            failed += len(results) - sum(results)
            if config.name == ONE_AT_A_TIME and failed and pending:
                break  # any host but the last failing fails the deployment at once
            if config.name != ONE_AT_A_TIME and succeeded + len(pending) < max(minimum, 1):
                break
        if deployment.job.stop_requested.is_set():
            return
        self._skip_pending(backend, deployment)
        if config.name == ONE_AT_A_TIME:
            ok = failed == 0 or (failed == 1 and not pending and total > 1
                                 and deployment.targets[order[-1]].status == "Failed")
        else:
            ok = not pending and succeeded >= max(minimum, 1)
        if ok:
            self._finish(backend, deployment, "Succeeded", None)
        else:
            self._finish(backend, deployment, "Failed",
                         {"code": "HEALTH_CONSTRAINTS", "message": HEALTH_CONSTRAINTS_MESSAGE},
                         rollback_event="DEPLOYMENT_FAILURE")

    def _run_batch(self, backend: CodeDeployBackend, deployment: Deployment, batch: list[str]) -> list[bool]:
        results: dict[str, bool] = {}

        def run_host(instance_id: str) -> None:
            results[instance_id] = self._run_host(backend, deployment, instance_id)

        threads = [threading.Thread(target=run_host, args=(i,), daemon=True) for i in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [results.get(i, False) for i in batch]

    def _run_host(self, backend: CodeDeployBackend, deployment: Deployment, instance_id: str) -> bool:
        target = deployment.targets[instance_id]
        self.hosts.reconcile()
        host: Host | None = self.hosts.get(instance_id)
        self.service.send_instance_event(backend, deployment, instance_id, "START")
        if host is None or not host.is_live:
            with backend.lock:
                target.set_status("InProgress")
                first = target.event("DownloadBundle")
                first.status, first.start, first.end = "Failed", now(), now()
                first.diagnostics = Diagnostics(
                    "UnknownError", "", f"The instance {instance_id} is no longer running, so the "
                    "agent cannot be reached.", "")
                target.skip_pending()
                target.set_status("Failed")
            ok = False
        else:
            agent = traffic.agent_for(deployment)(self.runtime, self.hosts, host, deployment.job,
                                                  target, backend.lock)
            ok = agent.run()
        self.service.send_instance_event(backend, deployment, instance_id,
                                         "SUCCESS" if ok else "FAILURE")
        return ok

    # --- endings ------------------------------------------------------------------------------
    def _skip_pending(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        with backend.lock:
            for target in deployment.targets.values():
                if target.status == "Pending":
                    target.skip_pending()
                    target.set_status("Skipped")


    def _finish(self, backend: CodeDeployBackend, deployment: Deployment, status: str,
                error: dict | None, rollback_event: str | None = None) -> None:
        rollback = None
        with backend.lock:
            if not deployment.active:
                return
            if rollback_event:
                rollback = self._plan_rollback(backend, deployment, rollback_event)
            deployment.error = error
            deployment.status, deployment.complete_time = status, now()
            group = deployment.group
            group.last_attempted = deployment.last_info()
            if status == "Succeeded":
                group.last_successful = deployment.last_info()
                group.target_revision = deployment.revision
        state = {"Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP"}[status]
        self.service.send_deployment_event(backend, deployment, state)
        if rollback is not None:
            self.start(backend, rollback)

    def _plan_rollback(self, backend: CodeDeployBackend, deployment: Deployment, event: str):
        """The rollback deployment, recorded on the failed one before its status changes."""
        wanted = event in deployment.group.auto_rollback_events
        if deployment.auto_rollback is not None:
            config = deployment.auto_rollback
            wanted = bool(config.get("enabled")) and event in (config.get("events") or [])
        if event == "DEPLOYMENT_STOP_ON_REQUEST" and deployment.job.rollback_on_stop is not None:
            wanted = deployment.job.rollback_on_stop
        if not wanted or deployment.creator == "codeDeployRollback":
            return None
        last_good = self.service.last_successful_deployment(backend, deployment.group)
        if last_good is None:
            deployment.rollback_info = {
                "rollbackMessage": "Automatic rollback was not started: this deployment group has "
                                   "no earlier successful deployment to roll back to."}
            return None
        rollback = self.service.create_rollback(backend, deployment, last_good)
        deployment.rollback_info = {"rollbackDeploymentId": rollback.deployment_id}
        return rollback

    def stop(self, backend: CodeDeployBackend, deployment: Deployment, rollback: bool | None) -> None:
        """StopDeployment: no new host starts; hosts in flight end their current event."""
        deployment.job.rollback_on_stop = rollback
        deployment.job.stop_requested.set()
        if deployment.blue_green is not None:
            return  # the blue/green run notices the request and finishes (and rolls back) itself
        threading.Thread(target=self._finish_stop, args=(backend, deployment), daemon=True).start()

    def _finish_stop(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        deadline = time.monotonic() + 3700
        while time.monotonic() < deadline and not self.runtime.stopping.is_set():
            with backend.lock:
                busy = any(t.status == "InProgress" for t in deployment.targets.values())
            if not busy:
                break
            time.sleep(0.1)
        self._skip_pending(backend, deployment)
        self._finish(backend, deployment, "Stopped",
                     {"code": "MANUAL_STOP", "message": "The deployment was stopped by a user request."},
                     rollback_event="DEPLOYMENT_STOP_ON_REQUEST")

    # --- alarms --------------------------------------------------------------------------------
    def _active_alarm(self, backend: CodeDeployBackend, deployment: Deployment) -> str | None:
        config = deployment.group.settings.get("alarmConfiguration") or {}
        if not config.get("enabled"):
            return None
        from moto.cloudwatch.models import cloudwatch_backends

        alarms = cloudwatch_backends[backend.account_id][backend.region].alarms
        for entry in config.get("alarms") or []:
            alarm = alarms.get(entry.get("name"))
            if alarm is not None and alarm.state_value == "ALARM":
                return alarm.name
        return None

    def watch_alarms(self, backend: CodeDeployBackend, deployment: Deployment) -> None:
        """While hosts deploy, an alarm going off stops the deployment (as AWS polls alarms)."""
        def watch():
            while deployment.active and not self.runtime.stopping.wait(ALARM_POLL_SECONDS):
                name = self._active_alarm(backend, deployment)
                if name and deployment.active and not deployment.job.stop_requested.is_set():
                    self._stop_on_alarm(backend, deployment, name)
                    return

        if (deployment.group.settings.get("alarmConfiguration") or {}).get("enabled"):
            threading.Thread(target=watch, daemon=True).start()

    def _stop_on_alarm(self, backend: CodeDeployBackend, deployment: Deployment, alarm: str) -> None:
        deployment.job.stop_requested.set()
        deadline = time.monotonic() + 3700
        while time.monotonic() < deadline and not self.runtime.stopping.is_set():
            with backend.lock:
                busy = any(t.status == "InProgress" for t in deployment.targets.values())
            if not busy:
                break
            time.sleep(0.1)
        self._skip_pending(backend, deployment)
        self._finish(backend, deployment, "Stopped", {
            "code": "ALARM_ACTIVE",
            "message": f"One or more alarms have been activated according to the Amazon "
                       f"CloudWatch metrics you selected, and the affected deployments have been "
                       f"stopped. Activated alarms: <{alarm}>"},
            rollback_event="DEPLOYMENT_STOP_ON_ALARM")
